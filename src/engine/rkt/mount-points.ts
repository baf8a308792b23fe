// An app's mount points and how rkt fills them (rkt's run.md "Mount Volumes
// into a Pod", stage1 GenerateMounts). Pure.
//
// - A Docker image's VOLUME paths are its mount points, named as docker2aci
//   named them: "volume-" + the path made an AC name ("/var/lib/db" ->
//   "volume-var-lib-db"; a name taken twice gets "-1", "-2"...), never read-only.
// - --mount volume=V,target=P mounts volume V at P (the app's own --mount wins
//   over a pod-wide one at the same path); it also covers a mount point at P.
// - A mount point with no --mount is filled by the --volume of the same name.
// - A mount point nothing fills gets an implicit volume: kind=empty, named
//   "<app>-<mount point>", mode 0755, uid 0, gid 0, read-only as the mount
//   point says; for a Docker image it starts with the image's content at that
//   path (owner and mode included). It lives with the pod and goes at gc.
// - A --volume nothing uses is ignored.
import { posix } from 'node:path';
import { UsageError } from '../../errors.js';
import type { RktMount, RktVolume } from './pod-spec.js';

export interface RktMountPoint {
  name: string;
  path: string;
  readOnly: boolean;
}

/** A volume mounted into an app. */
export interface AppMount {
  volume: string;
  path: string;
  readOnly: boolean;
}

/** An implicit empty volume of one app (see the top of this file). */
export interface ImplicitVolume extends RktVolume {
  kind: 'empty';
  /** The mount point it fills, and the path whose image content it starts with (Docker images). */
  mountPoint: string;
  copyFrom: string;
}

/** appc's SanitizeACName: lower case, every other character a dash, no dashes at the edges. */
export function sanitizeAcName(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '');
}

function cleanPath(p: string): string {
  return posix.normalize(p.startsWith('/') ? p : `/${p}`).replace(/(.)\/+$/, '$1');
}

/** docker2aci's mount points for a Docker image's Volumes, sorted by name. */
export function dockerMountPoints(volumes: Record<string, unknown> | null | undefined): RktMountPoint[] {
  const seen = new Map<string, number>();
  const out: RktMountPoint[] = [];
  const paths = [...new Set(Object.keys(volumes ?? {}).map(cleanPath))].filter((p) => p !== '/').sort();
  for (const path of paths) {
    let name = sanitizeAcName(posix.join('volume', path));
    const n = seen.get(name);
    seen.set(name, (n ?? 0) + 1);
    if (n !== undefined) name = `${name}-${n}`;
    out.push({ name, path, readOnly: false });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The mounts of one app: its --mount flags (app-level ones win over pod-wide
 * ones at the same path), then each mount point they leave, filled by the
 * volume of its name or by an implicit volume.
 */
export function planAppMounts(
  app: string,
  mountPoints: readonly RktMountPoint[],
  podMounts: readonly RktMount[],
  appMounts: readonly RktMount[],
  volumes: readonly RktVolume[],
): { mounts: AppMount[]; implicit: ImplicitVolume[] } {
  const byPath = new Map<string, RktMount>();
  for (const m of [...podMounts, ...appMounts]) byPath.set(cleanPath(m.target), m);
  const mounts: AppMount[] = [];
  for (const [path, m] of byPath) {
    const vol = volumes.find((v) => v.name === m.volume);
    if (!vol) {
      throw new UsageError(`--mount volume=${m.volume}: no volume of that name: declare it with --volume ${m.volume},kind=host,source=PATH or kind=empty`);
    }
    mounts.push({ volume: vol.name, path, readOnly: vol.readOnly || Boolean(mountPoints.find((mp) => mp.name === vol.name)?.readOnly) });
  }
  const implicit: ImplicitVolume[] = [];
  for (const mp of mountPoints) {
    if (byPath.has(mp.path)) continue;
    const vol = volumes.find((v) => v.name === mp.name);
    if (vol) {
      mounts.push({ volume: vol.name, path: mp.path, readOnly: vol.readOnly || mp.readOnly });
      continue;
    }
    const name = `${app}-${mp.name}`;
    implicit.push({ name, kind: 'empty', readOnly: mp.readOnly, mode: 0o755, uid: 0, gid: 0, mountPoint: mp.name, copyFrom: mp.path });
    mounts.push({ volume: name, path: mp.path, readOnly: mp.readOnly });
  }
  return { mounts, implicit };
}

/** rkt's warning for each implicit volume. */
export function implicitVolumeWarning(mountPoint: string): string {
  return `warning: no volume specified for mount point "${mountPoint}", implicitly creating an "empty" volume. This volume will be removed when the pod is garbage-collected.`;
}
