// The set-up most container tests share: the real docker-registry on 127.0.0.1
// serving the project's busybox image, and a TsrunCli (own --root/--runroot)
// that has pulled it. Registers the file's beforeAll/afterAll.
import { afterAll, beforeAll, expect } from 'vitest';
import { type RunningRegistry, serveBusybox } from './registry-server.js';
import { TsrunCli } from './tsrun-cli.js';

export interface PulledBusybox {
  registry: RunningRegistry;
  cli: TsrunCli;
  /** The image's reference on the registry ("127.0.0.1:PORT/busybox"). */
  image: string;
}

/** `ready` receives the registry, the CLI and the image once they are up (in beforeAll). */
export function usePulledBusybox(ready: (env: PulledBusybox) => void): void {
  let env: PulledBusybox | undefined;
  beforeAll(async () => {
    const { registry, image } = await serveBusybox();
    env = { registry, image, cli: new TsrunCli() };
    ready(env);
    const pulled = env.cli.run(['pull', '-q', image]);
    expect(pulled.code, pulled.stderr).toBe(0);
  }, 180_000);
  afterAll(async () => {
    env?.cli.destroy();
    await env?.registry.stop();
  });
}
