// A stopped container record on disk that mounts the given volumes: what the volume tests
// need to make a volume "in use" without running anything.
import { ContainerStore, type ContainerMount, type ContainerRecord } from '../../src/engine/container-store.js';
import type { EngineContext } from '../../src/engine/context.js';

export function storedContainerUsing(ctx: EngineContext, mounts: ContainerMount[]): ContainerRecord {
  const store = new ContainerStore(ctx);
  const id = ContainerStore.newId();
  const record: ContainerRecord = {
    id,
    name: `c${id.slice(0, 8)}`,
    created: new Date().toISOString(),
    image: 'busybox',
    imageId: 'sha256:x',
    path: 'true',
    args: [],
    config: {
      env: [],
      workingDir: '/',
      user: '',
      tty: false,
      openStdin: false,
      stopSignal: 'SIGTERM',
      stopTimeout: 10,
      labels: {},
      hostname: 'h',
      entrypoint: null,
      cmd: null,
    },
    hostConfig: { autoRemove: false, restartPolicy: { name: 'no', maximumRetryCount: 0 }, readonlyRootfs: false, networkMode: 'none', binds: [], init: false, runtime: 'tsrun' },
    lowerDirs: [],
    state: { status: 'exited', exitCode: 0 },
    restartCount: 0,
    mounts,
  };
  store.claimName(record.name, id);
  store.create(record, () => undefined);
  return record;
}
