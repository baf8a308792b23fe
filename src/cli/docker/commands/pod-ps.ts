// tsrun pod ps [-q] [--no-trunc] [--ctr-names] [--format json]: Podman's columns (no INFRA ID: tsrun pods have no infra container)
import type { Command } from 'commander';
import { action } from '../../common.js';
import { timeAgo } from '../../format.js';
import { podsOf } from '../pod-access.js';
import { printTable } from '../table.js';

export function registerPodPs(pod: Command, name = 'ps', aliases: string[] = ['ls', 'list']): void {
  pod
    .command(name)
    .aliases(aliases)
    .description('list pods')
    .option('-q, --quiet', 'print only pod IDs')
    .option('--no-trunc', 'do not truncate IDs')
    .option('--ctr-names', 'show the names of the containers in each pod')
    .option('--format <format>', 'json for a JSON array')
    .action(
      action('tsrun', (flags: { quiet?: boolean; trunc?: boolean; ctrNames?: boolean; format?: string }, self: Command) => {
        const views = podsOf(self).list();
        const id = (s: string) => (flags.trunc === false ? s : s.slice(0, 12));
        if (flags.quiet) {
          for (const v of views) process.stdout.write(`${id(v.record.id)}\n`);
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
            Networks: v.record.share.includes('net') && v.record.networkMode === 'bridge' ? (v.record.networks ?? ['bridge']).map((n) => (n === 'bridge' ? 'tsrun' : n)) : [],
            Status: v.status,
            Labels: v.record.labels,
          }));
          process.stdout.write(JSON.stringify(out, null, 4) + '\n');
          return;
        }
        const now = Date.now();
        const header = ['POD ID', 'NAME', 'STATUS', 'CREATED', '# OF CONTAINERS'];
        if (flags.ctrNames) header.push('NAMES');
        printTable(
          header,
          views.map((v) => {
            const row = [id(v.record.id), v.record.name, v.status, timeAgo(v.record.created, now), String(v.members.length)];
            if (flags.ctrNames) row.push(v.members.map((m) => m.record.name).join(','));
            return row;
          }),
        );
      }),
    );
}
