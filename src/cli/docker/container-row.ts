// A `ps` row with every field of Docker's formatter.ContainerContext (docker/cli
// cli/command/formatter/container.go), for --format templates and json.
import type { ContainerView } from '../../engine/containers.js';
import type { ImageRecord } from '../../store/index.js';
import { treeSize } from '../../engine/container-usage.js';
import { dockerTimestamp, humanSize, timeAgo } from '../format.js';
import { commandText, stateName, statusText } from './container-view.js';
import { GO_STRING, GO_TYPE, NIL } from './go-template.js';
import type { Row } from './list-format.js';

export const CONTAINER_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID', Names: 'NAMES', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED',
  Ports: 'PORTS', State: 'STATE', Status: 'STATUS', Size: 'SIZE', Labels: 'LABELS', Mounts: 'MOUNTS', LocalVolumes: 'LOCAL VOLUMES',
  Networks: 'NETWORKS', Platform: 'PLATFORM', HealthStatus: 'HEALTH STATUS', IPAddresses: 'IP ADDRESSES',
};

/** What a row needs besides the container itself. */
export interface ContainerRowSources {
  full: boolean;
  now: number;
  ports: string;
  /** Attached networks (empty when not running): name and address. */
  networks: { name: string; ip: string }[];
  /** The container's upper dir, measured only when Size is asked for (Docker's --size). */
  upperDir?: string;
  image?: ImageRecord;
}

/** Docker's Ellipsis: at most `max` characters, the last one "…" when cut. */
function ellipsis(s: string, max: number): string {
  return [...s].length <= max ? s : `${[...s].slice(0, max - 1).join('')}…`;
}

export function containerRow(v: ContainerView, src: ContainerRowSources): Row {
  const { record } = v;
  const labels = record.config.labels ?? {};
  const mounts = record.mounts ?? [];
  const image = src.image;
  // Docker's Platform is a pointer: <nil> when the image's platform is unknown; it prints as os/arch[/variant].
  const platform = image
    ? {
        [GO_TYPE]: '*formatter.Platform',
        [GO_STRING]: () => [image.config.os, image.config.architecture, image.config.variant].filter(Boolean).join('/'),
        Architecture: image.config.architecture,
        OS: image.config.os,
        OSVersion: '',
        OSFeatures: null,
        Variant: image.config.variant ?? '',
        toJSON: () => ({ architecture: image.config.architecture, os: image.config.os, ...(image.config.variant ? { variant: image.config.variant } : {}) }),
      }
    : NIL;
  // Without a running network namespace a container still belongs to its network mode's network.
  const mode = record.hostConfig.networkMode;
  const networkNames = src.networks.length ? src.networks.map((n) => n.name) : mode && !mode.startsWith('container:') ? [mode] : [];
  return {
    ID: src.full ? record.id : record.id.slice(0, 12),
    Names: record.name,
    Image: record.image,
    Command: commandText(v, src.full),
    CreatedAt: dockerTimestamp(record.created),
    RunningFor: timeAgo(record.created, src.now),
    Ports: src.ports,
    State: stateName(v),
    Status: statusText(v, src.now),
    // "2B (virtual 21.5MB)": the writable layer, and with the image's layers. Measured on demand.
    Size: () => {
      if (src.upperDir === undefined) return '0B';
      const rw = treeSize(src.upperDir);
      return image ? `${humanSize(rw)} (virtual ${humanSize(rw + image.size)})` : humanSize(rw);
    },
    Labels: Object.entries(labels).map(([k, val]) => `${k}=${val}`).sort().join(','),
    Label: (name: string) => labels[name] ?? '',
    Mounts: mounts.map((m) => (m.type === 'volume' ? m.name ?? m.source : m.source)).map((n) => (src.full ? n : ellipsis(n, 15))).join(','),
    LocalVolumes: String(mounts.filter((m) => m.type === 'volume').length),
    Networks: [...new Set(networkNames)].sort().join(','),
    Platform: platform,
    // tsrun runs no health checks.
    HealthStatus: '',
    IPAddresses: src.networks
      .filter((n) => n.ip)
      .map((n) => ({ [GO_TYPE]: 'formatter.NetworkIP', [GO_STRING]: () => `${n.name}/${n.ip}`, Network: n.name, IP: n.ip }))
      .sort((a, b) => `${a.Network}/${a.IP}`.localeCompare(`${b.Network}/${b.IP}`)),
  };
}
