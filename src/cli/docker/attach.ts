// What an attached `run`/`start` does in the user's terminal: forwards signals
// to the container (Docker's --sig-proxy) and shows pull progress.
import type { Containers } from '../../engine/containers.js';
import type { ContainerRecord } from '../../engine/container-store.js';
import { familiarOrSame } from './names.js';

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

export function pullReporter(quiet: boolean) {
  return {
    onPull: (name: string) => {
      if (!quiet) process.stderr.write(`Unable to find image '${familiarOrSame(name)}' locally\n`);
    },
    onEvent: quiet ? undefined : (_event: unknown) => undefined,
  };
}
