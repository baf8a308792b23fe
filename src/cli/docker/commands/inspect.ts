// tsrun inspect NAME|ID...: a container, else an image, else a volume (as Docker resolves it)
import type { Command } from 'commander';
import { inspectImage } from '../../../engine/images.js';
import { openStore } from '../../../engine/pull.js';
import { Networks } from '../../../engine/networks.js';
import { NotFoundError } from '../../../errors.js';
import { action, contextOf } from '../../common.js';
import { EXIT_TSRUN, reportError } from '../../exit.js';
import { inspectContainer } from '../container-view.js';
import { containersOf } from '../engine-access.js';
import { imageInspectJson } from '../image-view.js';
import { inspectVolumeJson, volumesOf } from '../volume-access.js';
import { printInspected } from '../inspect-output.js';

export function registerInspect(program: Command, name = 'inspect', kinds: 'any' | 'container' = 'any'): void {
  program
    .command(name)
    .description(kinds === 'any' ? 'return low-level information on containers, images and volumes' : 'display detailed information on one or more containers')
    .argument('<name...>')
    .option('-f, --format <template>', "a Go template, as Docker's (e.g. {{.State.Status}}, {{json .Config}}, {{range .Mounts}}{{.Source}} {{end}})")
    .action(
      action('tsrun', async (names: string[], flags: { format?: string }, self: Command) => {
        const containers = containersOf(self);
        const out: unknown[] = [];
        let failed = 0;
        for (const n of names) {
          const found = inspectContainerNamed(containers, n) ?? (kinds === 'any' ? inspectImageNamed(self, n) ?? (await inspectVolumeNamed(self, n)) : undefined);
          if (found) out.push(found);
          else {
            reportError('tsrun', new NotFoundError(kinds === 'any' ? 'object' : 'container', n));
            failed++;
          }
        }
        // What was found (`[]` when nothing was) still goes to stdout: scripts parse it.
        printInspected(out, flags.format);
        return failed ? EXIT_TSRUN : 0;
      }),
    );
}

function inspectContainerNamed(containers: ReturnType<typeof containersOf>, name: string): unknown {
  try {
    const record = containers.lookup(name);
    const paths = containers.store.paths(record.id);
    const networks = new Networks(containers).networksOf(record);
    return inspectContainer({ record, state: containers.state(record) }, { logPath: paths.log, rootfs: paths.rootfs, networks });
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

/** As `volume inspect` shows it: a plugin's volume with the Mountpoint and Status its plugin answers. */
async function inspectVolumeNamed(cmd: Command, name: string): Promise<unknown> {
  const volumes = volumesOf(cmd);
  return volumes.find(name) ? inspectVolumeJson(await volumes.describe(name)) : undefined;
}

function inspectImageNamed(cmd: Command, name: string): unknown {
  const ctx = contextOf(cmd);
  try {
    const rec = inspectImage(ctx, name);
    const layers = openStore(ctx).layers;
    return imageInspectJson(rec, rec.layers.map((l) => layers.treePath(l.chainId)).reverse());
  } catch (err) {
    // A container name need not be a valid image reference.
    if (err instanceof NotFoundError || (err as { code?: string }).code === 'INVALID_REFERENCE') return undefined;
    throw err;
  }
}
