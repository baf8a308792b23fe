// What an attached `run`/`start` does in the user's terminal: forwards signals
// to the container (Docker's --sig-proxy) and shows pull progress.
import type { Containers } from '../../engine/containers.js';
import type { ContainerRecord } from '../../engine/container-store.js';
import type { PullEvent } from '../../engine/pull.js';
import { familiarOrSame } from './names.js';
import { PullProgress } from './pull-progress.js';

const PROXIED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** Forwards the signals tsrun receives to the container; returns the function that stops it. */
export function attachSignalProxy(containers: Containers, record: ContainerRecord): () => void {
  const handlers = PROXIED.map((sig) => {
    const handler = () => void containers.kill(record, sig).catch(() => undefined);
    process.on(sig, handler);
    return [sig, handler] as const;
  });
  return () => {
    for (const [sig, handler] of handlers) process.off(sig, handler);
  };
}

/** `run` and `create` pull a missing image with Docker's output, on stderr so stdout stays the container's. */
export function pullReporter(quiet: boolean) {
  const progress = quiet ? undefined : new PullProgress(process.stderr);
  return {
    onPull: (name: string) => {
      if (!quiet) process.stderr.write(`Unable to find image '${familiarOrSame(name)}' locally\n`);
    },
    onEvent: progress ? (event: unknown) => progress.handle(event as PullEvent) : undefined,
  };
}

/** `run` and `create`: a container from the image and flags, pulling the image as --pull says. */
export function createFromFlags(containers: Containers, image: string, command: string[], flags: Record<string, unknown>): Promise<ContainerRecord> {
  const reporter = pullReporter(Boolean(flags.quiet));
  return containers.create({
    image,
    command,
    flags,
    pull: flags.pull as 'missing' | 'always' | 'never',
    platform: flags.platform as string | undefined,
    onPull: reporter.onPull,
    onPullEvent: reporter.onEvent,
  });
}
