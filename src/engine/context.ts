// Where the engine keeps its state. Every engine call takes this, so tests can
// point a whole engine at temp directories.
import { join } from 'node:path';

export interface EngineContext {
  /** Persistent state: store, images, containers (default /var/lib/tsrun). */
  root: string;
  /** Runtime state that a reboot clears: live container state, locks (default /run/tsrun). */
  runroot: string;
}

export const DEFAULT_ROOT = '/var/lib/tsrun';
export const DEFAULT_RUNROOT = '/run/tsrun';

export function makeContext(root?: string, runroot?: string): EngineContext {
  return {
    root: root ?? process.env.TSRUN_ROOT ?? DEFAULT_ROOT,
    runroot: runroot ?? process.env.TSRUN_RUNROOT ?? DEFAULT_RUNROOT,
  };
}

export type Layout = ReturnType<typeof makeLayout>;

// Asked for ~100 times by one run: path.join is JavaScript that runs cold (~1 ms in all).
const layouts = new WeakMap<EngineContext, { root: string; runroot: string; layout: Layout }>();

/** The fixed layout under root and runroot, in one place. */
export function layout(ctx: EngineContext): Layout {
  const known = layouts.get(ctx);
  if (known && known.root === ctx.root && known.runroot === ctx.runroot) return known.layout;
  const made = Object.freeze(makeLayout(ctx));
  layouts.set(ctx, { root: ctx.root, runroot: ctx.runroot, layout: made });
  return made;
}

function makeLayout(ctx: EngineContext) {
  return {
    /** Content-addressed blobs and the ingest dir (store/). */
    content: join(ctx.root, 'content'),
    /** Image records and the name index (store/). */
    metadata: join(ctx.root, 'metadata'),
    /** One directory per unpacked layer, keyed by chain ID (unpack/). */
    layers: join(ctx.root, 'layers'),
    /** Per-container persistent state: config, logs, upper/work dirs. */
    containers: join(ctx.root, 'containers'),
    /** Per-pod persistent state. */
    pods: join(ctx.root, 'pods'),
    /** Local volumes: <name>/_data and <name>/volume.json (engine/volumes.ts). */
    volumes: join(ctx.root, 'volumes'),
    /** Live state of the launcher (runtime/): one dir per running container. */
    runtime: join(ctx.runroot, 'runtime'),
    /** Locks that must vanish at reboot. */
    locks: join(ctx.runroot, 'locks'),
  };
}
