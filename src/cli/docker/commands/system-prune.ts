// tsrun system prune [-f] [-a]: stopped containers, pods without running containers,
// dangling (or, with -a, unused) images, and what crashed tsrun processes left
// behind: half-created pods, network namespaces, veths, firewall entries, leases.
import type { Command } from 'commander';
import { pruneImages } from '../../../engine/images.js';
import { Volumes } from '../../../engine/volumes.js';
import { action, contextOf } from '../../common.js';
import { humanSize } from '../../format.js';
import { podsOf } from '../pod-access.js';
import { confirm } from '../confirm.js';
import { stdout } from '../../stdout.js';

export function registerSystemPrune(system: Command): void {
  system
    .command('prune')
    .description('remove unused data and the leftovers of crashed tsrun processes')
    .option('-a, --all', 'remove all unused images, not just dangling ones')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--volumes', 'also remove anonymous volumes no container uses')
    .option('--sweep-network', 'also remove veths and published ports on the tsrun bridge that no endpoint of this --root accounts for (only when no other tsrun root shares the host)')
    .action(
      action('tsrun', async (flags: { all?: boolean; force?: boolean; volumes?: boolean; sweepNetwork?: boolean }, self: Command) => {
        if (!flags.force) {
          const images = flags.all ? 'all images without at least one container associated to them' : 'all dangling images';
          const question =
            'WARNING! This will remove:\n  - all stopped containers\n  - all pods without running containers\n' +
            (flags.volumes ? '  - anonymous volumes not used by at least one container\n' : '') +
            `  - ${images}\n  - network namespaces, interfaces, firewall entries and addresses left by crashed tsrun processes\n\n` +
            'Are you sure you want to continue? [y/N] ';
          if (!(await confirm(question))) return 0;
        }
        const pods = podsOf(self);
        // Repair first: it may free what prune then counts.
        const repaired = await pods.repair({ sweepNetwork: flags.sweepNetwork });
        const containers = await pods.containers.prune();
        const removedPods = await pods.prune();
        const volumeLeftovers = new Volumes(contextOf(self)).repair();
        const volumes = flags.volumes ? await new Volumes(contextOf(self)).prune() : { removed: [], reclaimed: 0 };
        const images = await pruneImages(contextOf(self), { all: flags.all });
        const section = (title: string, lines: string[]) => {
          if (lines.length) stdout.write(`${title}:\n${lines.join('\n')}\n\n`);
        };
        section('Deleted Containers', containers.removed);
        section('Deleted Pods', removedPods);
        section('Deleted Volumes', volumes.removed);
        section('Deleted Images', [...images.untagged.map((u) => `untagged: ${u}`), ...images.deleted.map((d) => `deleted: ${d}`)]);
        const net = repaired.network;
        section('Repaired', [
          ...repaired.halfCreated.map((id) => `half-created pod ${id}`),
          ...repaired.namespaces.map((d) => `pod namespaces ${d}`),
          ...repaired.cgroups.map((c) => `pod cgroup ${c}`),
          ...repaired.containerStates.map((id) => `state of removed container ${id}`),
          ...net.endpoints.map((id) => `network endpoint ${id}`),
          ...net.netns.map((id) => `network namespace ${id}`),
          ...net.veths.map((v) => `veth ${v}`),
          ...net.ports.map((o) => `published ports of ${o}`),
          ...net.leases.map((ip) => `address lease ${ip}`),
          ...volumeLeftovers.map((v) => `volume leftover ${v}`),
        ]);
        stdout.write(`Total reclaimed space: ${humanSize(images.reclaimed + volumes.reclaimed)}\n`);
        return 0;
      }),
    );
}
