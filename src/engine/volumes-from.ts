// --volumes-from: another container's volumes and bind mounts, at the same container paths.
import type { Propagation } from '../spec/mounts.js';
import type { MountRequest, VolumesFromRequest } from '../spec/index.js';
import type { ContainerRecord } from './container-store.js';

/**
 * The mounts --volumes-from adds, as Docker's registerMountPoints does: each source
 * container's volumes and binds in turn (a later source wins a destination), read-only when
 * the source's mount is or the mode is ro (rw keeps a read-only mount read-only, as in
 * Docker); a destination that -v, --mount or --tmpfs names (`own`) keeps that mount.
 * `lookup` throws NotFoundError for a container that does not exist.
 */
export function volumesFromRequests(
  requests: readonly VolumesFromRequest[],
  lookup: (ref: string) => ContainerRecord,
  own: readonly MountRequest[],
): MountRequest[] {
  const byTarget = new Map<string, MountRequest>();
  for (const req of requests) {
    const source = lookup(req.container);
    for (const m of source.mounts ?? []) {
      const readonly = !m.rw || req.mode === 'ro';
      byTarget.set(
        m.destination,
        m.type === 'bind'
          ? { type: 'bind', source: m.source, target: m.destination, readonly, recursive: true, propagation: (m.propagation ?? 'rprivate') as Propagation }
          : {
              type: 'volume',
              volumeName: m.name,
              target: m.destination,
              readonly,
              // Shared as it is: the image's content is not copied into it again.
              noCopy: true,
              mode: req.mode || m.mode,
              sharedFrom: { container: source.name, anonymous: Boolean(m.anonymous) },
            },
      );
    }
  }
  const taken = new Set(own.map((m) => m.target));
  return [...byTarget.values()].filter((m) => !taken.has(m.target));
}
