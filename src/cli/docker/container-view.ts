// How containers look in `ps` and `inspect`.
import type { ContainerView } from '../../engine/containers.js';
import { humanDuration } from '../format.js';

export function statusText(view: ContainerView, now = Date.now()): string {
  const { state } = view;
  if (state.status === 'running') return `Up ${humanDuration(now - Date.parse(state.startedAt ?? view.record.created))}${state.paused ? ' (Paused)' : ''}`;
  if (state.status === 'exited') {
    const at = state.finishedAt ? Date.parse(state.finishedAt) : now;
    return `${state.restarting ? 'Restarting' : 'Exited'} (${state.exitCode ?? 0}) ${humanDuration(now - at)} ago`;
  }
  return 'Created';
}

/** Docker's State.Status: a frozen container is "paused", not "running"; one waiting out its restart backoff is "restarting". */
export function stateName(view: ContainerView): string {
  if (view.state.restarting) return 'restarting';
  return view.state.status === 'running' && view.state.paused ? 'paused' : view.state.status;
}

export function commandText(view: ContainerView, full: boolean): string {
  const cmd = [view.record.path, ...view.record.args].join(' ');
  return full || cmd.length <= 20 ? `"${cmd}"` : `"${cmd.slice(0, 19)}…"`;
}

/** `docker inspect`'s shape for a container (the fields tools read most). */
export function inspectContainer(
  view: ContainerView,
  extra: { logPath: string; rootfs: string; pid?: number; networks?: { name: string; ip: string; prefixLength: number; gateway: string; mac: string }[] },
) {
  const { record, state } = view;
  const networks = extra.networks ?? [];
  const primary = networks[0];
  return {
    Id: record.id,
    Created: record.created,
    Path: record.path,
    Args: record.args,
    State: {
      Status: stateName(view),
      // As Docker: a restarting container counts as running (with Pid 0).
      Running: state.status === 'running' || Boolean(state.restarting),
      Paused: Boolean(state.paused),
      Restarting: Boolean(state.restarting),
      OOMKilled: state.oomKilled ?? false,
      Dead: false,
      Pid: state.status === 'running' ? state.pid ?? 0 : 0,
      ExitCode: state.exitCode ?? 0,
      Error: state.error ?? '',
      StartedAt: state.startedAt ?? '0001-01-01T00:00:00Z',
      FinishedAt: state.finishedAt ?? '0001-01-01T00:00:00Z',
    },
    Image: record.imageId,
    LogPath: extra.logPath,
    Name: `/${record.name}`,
    RestartCount: record.restartCount,
    Driver: 'overlay',
    HostConfig: {
      Binds: record.hostConfig.binds,
      VolumesFrom: record.hostConfig.volumesFrom?.length ? record.hostConfig.volumesFrom : null,
      NetworkMode: record.hostConfig.networkMode,
      RestartPolicy: { Name: record.hostConfig.restartPolicy.name, MaximumRetryCount: record.hostConfig.restartPolicy.maximumRetryCount },
      AutoRemove: record.hostConfig.autoRemove,
      ReadonlyRootfs: record.hostConfig.readonlyRootfs,
      Init: record.hostConfig.init,
      Runtime: record.hostConfig.runtime,
    },
    // Docker's per-network endpoints; the top-level fields are the first network's.
    NetworkSettings: {
      IPAddress: primary?.ip ?? '',
      IPPrefixLen: primary?.prefixLength ?? 0,
      Gateway: primary?.gateway ?? '',
      MacAddress: primary?.mac ?? '',
      Networks: Object.fromEntries(
        networks.map((n) => [n.name, { IPAddress: n.ip, IPPrefixLen: n.prefixLength, Gateway: n.gateway, MacAddress: n.mac }]),
      ),
    },
    GraphDriver: { Name: 'overlay', Data: { LowerDir: record.lowerDirs.join(':'), MergedDir: extra.rootfs } },
    Mounts: (record.mounts ?? []).map((m) =>
      m.type === 'volume'
        ? { Type: 'volume', Name: m.name, Source: m.pluginPath ?? m.source, Destination: m.destination, Driver: m.driver ?? 'local', Mode: m.mode, RW: m.rw, Propagation: '' }
        : { Type: 'bind', Source: m.source, Destination: m.destination, Mode: m.mode, RW: m.rw, Propagation: m.propagation ?? 'rprivate' },
    ),
    Config: {
      Hostname: record.config.hostname,
      User: record.config.user,
      Tty: record.config.tty,
      OpenStdin: record.config.openStdin,
      StdinOnce: Boolean(record.config.stdinOnce),
      Env: record.config.env,
      Cmd: record.config.cmd,
      Image: record.image,
      WorkingDir: record.config.workingDir,
      Entrypoint: record.config.entrypoint,
      Labels: record.config.labels,
      StopSignal: record.config.stopSignal,
      StopTimeout: record.config.stopTimeout,
    },
  };
}
