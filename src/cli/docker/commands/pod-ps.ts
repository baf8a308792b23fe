// tsrun pod ps [-q] [--no-trunc] [--ctr-names] [--format json|TEMPLATE|table TEMPLATE]: Podman's
// columns (no INFRA ID: tsrun pods have no infra container) and Podman's template fields.
import type { Command } from 'commander';
import type { PodView } from '../../../engine/pods.js';
import { action } from '../../common.js';
import { timeAgo } from '../../format.js';
import { printFormatted, type Row } from '../list-format.js';
import { podsOf } from '../pod-access.js';
import { printTable } from '../table.js';
import { stdout } from '../../stdout.js';

// Podman's pod ps reporter (cmd/podman/pods/ps.go): its fields and their headers.
export const POD_PS_HEADERS: Record<string, string> = {
  Id: 'POD ID', ID: 'POD ID', Name: 'NAME', Status: 'STATUS', Created: 'CREATED', InfraId: 'INFRA ID', InfraID: 'INFRA ID',
  NumberOfContainers: '# OF CONTAINERS', Cgroup: 'CGROUP', Networks: 'NETWORKS', Labels: 'LABELS', Namespace: 'NAMESPACES',
  ContainerIds: 'IDS', ContainerNames: 'NAMES', ContainerStatuses: 'STATUS',
};
export const POD_PS_TYPE = 'pods.ListPodReporter';

/** The networks Podman lists for a pod: those of its shared network namespace ("bridge" is tsrun's default, named tsrun). */
function podNetworks(v: PodView): string[] {
  if (!v.record.share.includes('net') || v.record.networkMode !== 'bridge') return [];
  return (v.record.networks ?? ['bridge']).map((n) => (n === 'bridge' ? 'tsrun' : n));
}

/** A pod as Podman's template sees it; `id` shortens ids unless --no-trunc. */
export function podRow(v: PodView, now: number, id: (s: string) => string): Row {
  return {
    Id: id(v.record.id),
    ID: id(v.record.id),
    Name: v.record.name,
    Status: v.status,
    Created: timeAgo(v.record.created, now),
    InfraId: '',
    InfraID: '',
    NumberOfContainers: v.members.length,
    Cgroup: v.record.cgroupParent,
    Networks: podNetworks(v).join(','),
    Labels: v.record.labels,
    Label: (key: string) => v.record.labels[key] ?? '',
    Namespace: '',
    ContainerIds: v.members.map((m) => id(m.record.id)).join(','),
    ContainerNames: v.members.map((m) => m.record.name).join(','),
    ContainerStatuses: v.members.map((m) => m.state.status).join(','),
  };
}

export function registerPodPs(pod: Command, name = 'ps', aliases: string[] = ['ls', 'list']): void {
  pod
    .command(name)
    .aliases(aliases)
    .description('list pods')
    .option('-q, --quiet', 'print only pod IDs')
    .option('--no-trunc', 'do not truncate IDs')
    .option('--ctr-names', 'show the names of the containers in each pod')
    .option('--format <format>', 'json for a JSON array, or a Go template such as "{{.Name}}" ("table TEMPLATE" adds headers)')
    .action(
      action('tsrun', (flags: { quiet?: boolean; trunc?: boolean; ctrNames?: boolean; format?: string }, self: Command) => {
        const views = podsOf(self).list();
        const id = (s: string) => (flags.trunc === false ? s : s.slice(0, 12));
        if (flags.quiet) {
          for (const v of views) stdout.write(`${id(v.record.id)}\n`);
          return;
        }
        if (flags.format === 'json') {
          const out = views.map((v) => ({
            Cgroup: v.record.cgroupParent,
            Containers: v.members.map((m) => ({ Id: m.record.id, Names: m.record.name, Status: m.state.status })),
            Created: v.record.created,
            Id: v.record.id,
            InfraId: '',
            Name: v.record.name,
            Namespace: '',
            Networks: podNetworks(v),
            Status: v.status,
            Labels: v.record.labels,
          }));
          stdout.write(JSON.stringify(out, null, 4) + '\n');
          return;
        }
        const now = Date.now();
        const rows = views.map((v) => podRow(v, now, id));
        if (printFormatted(flags.format, rows, POD_PS_HEADERS, POD_PS_TYPE, ['Label'])) return;
        const header = ['POD ID', 'NAME', 'STATUS', 'CREATED', '# OF CONTAINERS'];
        if (flags.ctrNames) header.push('NAMES');
        printTable(
          header,
          rows.map((r) => {
            const row = [r.Id, r.Name, r.Status, r.Created, r.NumberOfContainers].map(String);
            if (flags.ctrNames) row.push(String(r.ContainerNames));
            return row;
          }),
        );
      }),
    );
}
