// How images look in Docker's output: `images` rows and `image inspect` JSON.
import { familiarName, shortId } from '../../engine/images.js';
import type { ImageRecord } from '../../store/index.js';
import { dockerTimestamp, humanSize, timeAgo } from '../format.js';

export interface ImageRow {
  repository: string;
  tag: string;
  digest: string;
  record: ImageRecord;
}

function splitFamiliar(name: string): { repo: string; rest: string; sep: string } {
  const at = name.indexOf('@');
  if (at >= 0) return { repo: name.slice(0, at), rest: name.slice(at + 1), sep: '@' };
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) return { repo: name.slice(0, colon), rest: name.slice(colon + 1), sep: ':' };
  return { repo: name, rest: '', sep: '' };
}

/** One row per tag (Docker's layout); an untagged image shows its digests' repos, else <none>. */
export function imageRows(recs: ImageRecord[]): ImageRow[] {
  const rows: ImageRow[] = [];
  for (const record of recs) {
    const digests = record.repoDigests.map((d) => splitFamiliar(familiarName(d)));
    const digestFor = (repo: string) => digests.find((d) => d.repo === repo)?.rest ?? '<none>';
    if (record.repoTags.length > 0) {
      for (const t of record.repoTags) {
        const { repo, rest } = splitFamiliar(familiarName(t));
        rows.push({ repository: repo, tag: rest, digest: digestFor(repo), record });
      }
    } else if (digests.length > 0) {
      for (const d of digests) rows.push({ repository: d.repo, tag: '<none>', digest: d.rest, record });
    } else {
      rows.push({ repository: '<none>', tag: '<none>', digest: '<none>', record });
    }
  }
  return rows;
}

/** The fields of `docker images --format` (json and {{.Field}} templates). */
export function imageRowFields(row: ImageRow, noTrunc: boolean, now = Date.now()): Record<string, string> {
  const size = humanSize(row.record.size);
  return {
    Containers: 'N/A',
    CreatedAt: dockerTimestamp(row.record.created),
    CreatedSince: timeAgo(row.record.created, now),
    Digest: row.digest,
    ID: noTrunc ? row.record.id : shortId(row.record.id),
    Repository: row.repository,
    SharedSize: 'N/A',
    Size: size,
    Tag: row.tag,
    UniqueSize: 'N/A',
    VirtualSize: size,
  };
}

/** `docker image inspect` shape. */
export function imageInspectJson(rec: ImageRecord, lowerDirs: string[] = []): Record<string, unknown> {
  const c = rec.config.config ?? {};
  const json: Record<string, unknown> = {
    Id: rec.id,
    RepoTags: rec.repoTags.map(familiarName),
    RepoDigests: rec.repoDigests.map(familiarName),
    Parent: '',
    Comment: rec.config.history?.[rec.config.history.length - 1]?.comment ?? '',
    Created: rec.created,
    DockerVersion: '',
    Author: rec.config.author ?? '',
    Config: {
      Hostname: '',
      Domainname: '',
      User: c.User ?? '',
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      ExposedPorts: c.ExposedPorts,
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: c.Env ?? null,
      Cmd: c.Cmd ?? null,
      Image: '',
      Volumes: c.Volumes ?? null,
      WorkingDir: c.WorkingDir ?? '',
      Entrypoint: c.Entrypoint ?? null,
      OnBuild: null,
      Labels: c.Labels ?? null,
      StopSignal: c.StopSignal,
    },
    Architecture: rec.config.architecture,
    Variant: rec.config.variant,
    Os: rec.config.os,
    Size: rec.size,
    GraphDriver: {
      Name: 'overlay',
      Data: lowerDirs.length ? { LowerDir: lowerDirs.join(':') } : {},
    },
    RootFS: { Type: 'layers', Layers: rec.config.rootfs.diff_ids },
    Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
    // tsrun's own: what the store keeps.
    ManifestDigest: rec.manifestDigest,
    ...(rec.indexDigest ? { IndexDigest: rec.indexDigest } : {}),
  };
  // Docker omits these when empty.
  const cfg = json.Config as Record<string, unknown>;
  for (const k of ['ExposedPorts', 'StopSignal']) if (cfg[k] === undefined) delete cfg[k];
  if (json.Variant === undefined) delete json.Variant;
  return json;
}
