// The appc pod manifest of a tsrkt pod (what `rkt cat-manifest` prints): one
// entry per app with its image (rkt's "sha512-" ID), exec, user, environment,
// the image's mount points, the app's mounts, isolators and stdio annotations,
// plus the pod's volumes (the implicit ones of mount points included) and
// ports. Built from the resolved apps; pure.
import type { InsecureRunOption } from './insecure-options.js';
import type { AppMount, ImplicitVolume, RktMountPoint } from './mount-points.js';
import type { RktPodSpec, RktVolume } from './pod-spec.js';
import { stdioAnnotations, type RktStdio } from './stdio.js';

export interface ResolvedApp {
  name: string;
  /** The image as tsrkt shows it, and what the engine resolves (a name, or tsrun's ID for an image run by ID). */
  image: string;
  ref: string;
  /** tsrun's image ID ("sha256:...") and rkt's ("sha512-...", image-id.ts). */
  imageId: string;
  rktImageId: string;
  exec: string[];
  user: string;
  group: string;
  workingDirectory: string;
  /** The environment the user set on top of the image's (NAME=VALUE). */
  environment: string[];
  /** The image's mount points (its Docker VOLUMEs). */
  mountPoints: RktMountPoint[];
  /** What is mounted where: --mount, volumes matched by name, implicit volumes. */
  mounts: AppMount[];
  /** Implicit empty volumes of this app's unfilled mount points. */
  implicit: ImplicitVolume[];
  memoryBytes?: number;
  cpus?: number;
  stdio: RktStdio;
  interactive: boolean;
  /** --insecure-options capabilities/paths/seccomp: the isolation this app's container gives up. */
  insecure?: InsecureRunOption[];
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

export function volumeJson(v: RktVolume) {
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
    image: { name: a.image, id: a.rktImageId },
    app: {
      exec: a.exec,
      user: a.user,
      group: a.group,
      workingDirectory: a.workingDirectory,
      environment: a.environment.map((e) => {
        const i = e.indexOf('=');
        return { name: e.slice(0, i), value: e.slice(i + 1) };
      }),
      mountPoints: a.mountPoints.map((m) => ({ name: m.name, path: m.path, readOnly: m.readOnly })),
      isolators,
    },
    mounts: a.mounts.map((m) => ({ volume: m.volume, path: m.path, ...(m.readOnly ? { readOnly: true } : {}) })),
    annotations: stdioAnnotations(a.stdio, a.interactive),
  };
}

export function buildPodManifest(apps: ResolvedApp[], spec: Pick<RktPodSpec, 'volumes' | 'ports'>, hostname: string): PodManifest {
  return {
    acVersion: '0.8.11',
    acKind: 'PodManifest',
    apps: apps.map(appJson),
    volumes: [...spec.volumes, ...apps.flatMap((a) => a.implicit)].map(volumeJson),
    isolators: [],
    annotations: [{ name: 'coreos.com/rkt/stage1/hostname', value: hostname }],
    ports: spec.ports.map((p) => ({ name: p.name, hostPort: p.hostPort, ...(p.hostIp ? { hostIP: p.hostIp } : {}) })),
  };
}
