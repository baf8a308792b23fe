// Finding a local image for a container, pulling it when the policy says so.
import { coolMigrationLock } from '../cgroup/index.js';
import { NotFoundError } from '../errors.js';
import type { ImageConfig } from '../oci/image.js';
import { ImageStore } from '../store/images.js';
import { LayerStore } from '../store/layers.js';
import type { RegistryClientOptions } from '../registry/client.js';
import { layout, type EngineContext } from './context.js';
import { pullImage } from './pull.js';

export type PullPolicy = 'missing' | 'always' | 'never';

export interface LocalImage {
  id: string;
  config: ImageConfig;
  /** Layer trees, top layer first, ready to be overlay lower dirs. */
  lowerDirs: string[];
}

export async function resolveImage(
  ctx: EngineContext,
  name: string,
  opts: {
    pull: PullPolicy;
    platform?: string;
    onPull?: (ref: string) => void;
    onEvent?: (e: unknown) => void;
    /** For the pull, when there is one (e.g. tsrkt's --insecure-options tls/http). */
    registry?: RegistryClientOptions;
  },
): Promise<LocalImage> {
  const images = new ImageStore(layout(ctx).metadata);
  const always = opts.pull === 'always';
  let record = always ? undefined : images.lookup(name);
  if (!record) {
    if (opts.pull === 'never') throw new NotFoundError('image', name, { hint: 'pull it first, or use --pull missing' });
    // "Unable to find image … locally" only when it is not here: --pull always pulls an image it has without saying so.
    if (!always || !isPresent(images, name)) opts.onPull?.(name);
    // A pull takes seconds: keeping the cgroup lock warm that long would only slow every
    // fork on the host. The launcher warms it again when the container is set up.
    coolMigrationLock();
    record = await pullImage(ctx, name, { platform: opts.platform, onEvent: opts.onEvent as never, registryOptions: opts.registry });
  }
  const layers = new LayerStore(layout(ctx).layers);
  return {
    id: record.id,
    config: record.config,
    // Short symlinked paths keep the overlay's mount options under a page for images with many layers.
    lowerDirs: record.layers.map((l) => layers.shortPath(l.chainId)).reverse(),
  };
}

/** Whether the store has the image; a name it cannot read as a reference is "not here" (the pull then says why). */
function isPresent(images: ImageStore, name: string): boolean {
  try {
    return images.lookup(name) !== undefined;
  } catch {
    return false;
  }
}
