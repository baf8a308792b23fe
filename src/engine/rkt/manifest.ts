// The appc pod manifest of a tsrkt pod (what `rkt cat-manifest` prints): one
// entry per app with its image, exec, user, environment, mounts and isolators,
// plus the pod's volumes and ports. Built from the resolved apps; pure.
import type { RktPodSpec, RktVolume } from './pod-spec.js';

export interface ResolvedApp {
  name: string;
  image: string;
  imageId: string;
  exec: string[];
  user: string;
  group: string;
  workingDirectory: string;
  /** The environment the user set on top of the image's (NAME=VALUE). */
  environment: string[];
  mounts: { volume: string; path: string }[];
  memoryBytes?: number;
  cpus?: number;
}

export interface PodManifest {
  acVersion: string;
  acKind: 'PodManifest';
  apps: unknown[];
  volumes: unknown[];
  isolators: unknown[];
  annotations: { name: string; value: string }[];
  ports: unknown[];
}

function volumeJson(v: RktVolume) {
  return {
    name: v.name,
    kind: v.kind,
    ...(v.source ? { source: v.source } : {}),
    readOnly: v.readOnly,
    ...(v.mode !== undefined ? { mode: v.mode.toString(8).padStart(4, '0') } : {}),
    ...(v.uid !== undefined ? { uid: v.uid } : {}),
    ...(v.gid !== undefined ? { gid: v.gid } : {}),
  };
}

export function appJson(a: ResolvedApp) {
  const isolators: unknown[] = [];
  if (a.memoryBytes !== undefined) isolators.push({ name: 'resource/memory', value: { limit: String(a.memoryBytes) } });
  if (a.cpus !== undefined) isolators.push({ name: 'resource/cpu', value: { limit: `${Math.round(a.cpus * 1000)}m` } });
  return {
    name: a.name,
    image: { name: a.image, id: a.imageId },
    app: {
      exec: a.exec,
      user: a.user,
      group: a.group,
      workingDirectory: a.workingDirectory,
      environment: a.environment.map((e) => {
        const i = e.indexOf('=');
        return { name: e.slice(0, i), value: e.slice(i + 1) };
      }),
      mountPoints: a.mounts.map((m) => ({ name: m.volume, path: m.path })),
      isolators,
    },
    mounts: a.mounts.map((m) => ({ volume: m.volume, path: m.path })),
  };
}

export function buildPodManifest(apps: ResolvedApp[], spec: Pick<RktPodSpec, 'volumes' | 'ports'>, hostname: string): PodManifest {
  return {
    acVersion: '0.8.11',
    acKind: 'PodManifest',
    apps: apps.map(appJson),
    volumes: spec.volumes.map(volumeJson),
    isolators: [],
    annotations: [{ name: 'coreos.com/rkt/stage1/hostname', value: hostname }],
    ports: spec.ports.map((p) => ({ name: p.name, hostPort: p.hostPort, ...(p.hostIp ? { hostIP: p.hostIp } : {}) })),
  };
}
