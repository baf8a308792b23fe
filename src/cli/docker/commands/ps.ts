// tsrun ps [-a] [-q] [-s] [-n N | -l] [--no-trunc] [-f KEY=VALUE]... [--format json|TEMPLATE|table TEMPLATE]
import type { Command } from 'commander';
import { containersOf } from '../engine-access.js';
import { action, contextOf } from '../../common.js';
import { printFormatted } from '../list-format.js';
import { printTable } from '../table.js';
import { networkPaths, publishedPorts } from '../../../engine/container-network.js';
import { Networks } from '../../../engine/networks.js';
import { openStore } from '../../../engine/pull.js';
import type { Containers, ContainerView } from '../../../engine/containers.js';
import {
  imageFamily,
  parseContainerFilters,
  selectContainers,
  stateString,
  type ContainerFilters,
  type FilterSubject,
} from '../../../engine/container-filter.js';
import type { EngineContext } from '../../../engine/context.js';
import { readEndpoint } from '../../../network/index.js';
import type { ImageStore } from '../../../store/images.js';
import { UsageError } from '../../../errors.js';
import { CONTAINER_HEADERS, containerRow } from '../container-row.js';
import { stdout } from '../../stdout.js';

const collect = (v: string, acc: string[]) => [...acc, v];

interface PsFlags {
  all?: boolean;
  quiet?: boolean;
  size?: boolean;
  trunc?: boolean;
  format?: string;
  filter: string[];
  last?: string;
  latest?: boolean;
}

export function registerPs(program: Command, name = 'ps'): Command {
  return program
    .command(name)
    .description('list containers')
    .option('-a, --all', 'show all containers (default shows just running)')
    .option('-f, --filter <filter>', 'filter output based on conditions provided (KEY=VALUE, repeatable)', collect, [])
    .option('-n, --last <n>', 'show n last created containers (includes all states)')
    .option('-l, --latest', 'show the latest created container (includes all states)')
    .option('-q, --quiet', 'only display container IDs')
    .option('-s, --size', 'display total file sizes')
    .option('--no-trunc', 'don\'t truncate output')
    .option('--format <format>', 'json, or a Go template such as "{{.Names}}\\t{{.Status}}" ("table TEMPLATE" adds headers)')
    .action(
      action('tsrun', async (flags: PsFlags, self: Command) => {
        // Bad filters and counts fail before anything is read, as Docker's.
        const filters = parseContainerFilters(flags.filter);
        const limit = flags.latest ? 1 : lastCount(flags.last);
        const ctx = contextOf(self);
        const containers = containersOf(self);
        const images = openStore(ctx).images;
        const networks = new Networks(containers);
        const all = Boolean(flags.all) || limit > 0;
        const views = await filtered(ctx, containers, filters, {
          all,
          images,
          networks,
          containerId: (ref) => containers.lookup(ref).id,
        });
        const shown = limit > 0 ? views.slice(0, limit) : views;
        const full = flags.trunc === false;
        if (flags.quiet) {
          for (const v of shown) stdout.write(`${full ? v.record.id : v.record.id.slice(0, 12)}\n`);
          return;
        }
        // Docker measures sizes only with --size, or when the template reads .Size.
        const sized = Boolean(flags.size) || /\.Size\b/.test(flags.format ?? '');
        const now = Date.now();
        const rows = shown.map((v) =>
          containerRow(v, {
            full,
            now,
            // Pod members publish nothing of their own: show the pod's ports, as podman does.
            ports: publishedPorts(ctx, v.record.pod ?? v.record.id).join(', '),
            networks: networks.networksOf(v.record),
            upperDir: sized ? containers.store.paths(v.record.id).upper : undefined,
            image: images.get(v.record.imageId),
          }),
        );
        if (printFormatted(flags.format, rows, CONTAINER_HEADERS, '*formatter.ContainerContext', ['Label'])) return;
        const cell = (r: (typeof rows)[number], k: string) => String(r[k]);
        printTable(
          ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES', ...(flags.size ? ['SIZE'] : [])],
          rows.map((r) => [
            ...['ID', 'Image', 'Command', 'RunningFor', 'Status', 'Ports', 'Names'].map((k) => cell(r, k)),
            ...(flags.size ? [(r.Size as () => string)()] : []),
          ]),
        );
      }),
    );
}

/** -n/--last: 0 (or unset, or Docker's default -1) means no limit. */
function lastCount(value: string | undefined): number {
  if (value === undefined) return 0;
  if (!/^-?\d+$/.test(value.trim())) throw new UsageError(`invalid argument "${value}" for "-n, --last" flag: not an integer`);
  return Math.max(0, Number(value));
}

/** The views (newest first) that pass the filters; without -a, only live ones unless a status filter says otherwise. */
async function filtered(
  ctx: EngineContext,
  containers: Containers,
  filters: ContainerFilters,
  opts: { all: boolean; images: ImageStore; networks: Networks; containerId: (ref: string) => string },
): Promise<ContainerView[]> {
  // No filter: Containers.list's own rule for -a (without it, running and restarting ones).
  if (Object.keys(filters).length === 0) return containers.list(opts.all);
  const views = containers.list(true);
  // Network IDs are read only when a network filter may need them.
  const networkIds = filters.network ? new Map((await opts.networks.list()).map((n) => [n.name, n.id])) : undefined;
  const subjects = views.map((view) => ({ view, ...subjectOf(ctx, view, opts, networkIds) }));
  const picked = selectContainers(subjects, filters, { containerId: opts.containerId, imageFamily: (ref) => familyOf(opts.images, ref) }, opts.all);
  return picked.map((s) => s.view);
}

function subjectOf(ctx: EngineContext, { record, state }: ContainerView, opts: { images: ImageStore; networks: Networks }, networkIds?: Map<string, string>): FilterSubject {
  // A pod member's ports are the pod's, as ps shows them.
  const endpoint = readEndpoint(networkPaths(ctx).stateDir, record.pod ?? record.id);
  const published = (endpoint?.ports ?? []).map((p) => `${p.containerPort}/${p.protocol}`);
  const imageExposed = Object.keys(opts.images.get(record.imageId)?.config.config?.ExposedPorts ?? {});
  // Without a live network namespace a container still belongs to its network mode's network (as ps's Networks column).
  const attached = opts.networks.networksOf(record).map((n) => n.name);
  const mode = record.hostConfig.networkMode;
  const names = attached.length ? attached : mode && !mode.startsWith('container:') ? [mode] : [];
  return {
    id: record.id,
    name: record.name,
    labels: record.config.labels ?? {},
    state: stateString(state),
    exitCode: state.exitCode,
    started: Boolean(state.startedAt),
    imageId: record.imageId,
    mounts: record.mounts ?? [],
    networks: names.map((n) => ({ name: n, id: networkIds?.get(n) })),
    published,
    exposed: [...new Set([...imageExposed, ...published])],
    health: 'none',
  };
}

/** The image `ref` names and the images built on it; nothing when no image matches (as Docker, which then lists none). */
function familyOf(images: ImageStore, ref: string): string[] {
  let root;
  try {
    root = images.lookup(ref);
  } catch {
    return [];
  }
  if (!root) return [];
  const chains = (img: { id: string; layers: { chainId: string }[] }) => ({ id: img.id, chainIds: img.layers.map((l) => l.chainId) });
  return imageFamily(chains(root), images.list().map(chains));
}
