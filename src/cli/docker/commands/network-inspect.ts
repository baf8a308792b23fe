// tsrun network inspect [-f TEMPLATE] NETWORK...: Docker's JSON shape, with the Containers map of who is on it
import type { Command } from 'commander';
import { action } from '../../common.js';
import { printInspected } from '../inspect-output.js';
import { forEachNetwork, networksOf } from '../network-access.js';

export function registerNetworkInspect(network: Command): void {
  network
    .command('inspect')
    .description('display detailed information on one or more networks')
    .argument('<network...>')
    .option('-f, --format <template>', "a Go template, as Docker's (e.g. {{.Name}}, {{json .IPAM}}, {{range .Containers}}{{.Name}} {{end}})")
    .action(
      action('tsrun', async (refs: string[], flags: { format?: string }, self: Command) => {
        const networks = networksOf(self);
        const out: unknown[] = [];
        const code = await forEachNetwork(refs, async (ref) => {
          const net = await networks.get(ref);
          const containers: Record<string, unknown> = {};
          for (const e of networks.endpoints(net)) {
            containers[e.id] = { Name: e.name, EndpointID: '', MacAddress: e.mac, IPv4Address: `${e.ip}/${e.prefixLength}`, IPv6Address: '' };
          }
          out.push({
            Name: net.name,
            Id: net.id,
            Created: net.created,
            Scope: 'local',
            Driver: net.driver,
            EnableIPv6: false,
            IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: net.subnet, Gateway: net.gateway }] },
            Internal: false,
            Attachable: false,
            Ingress: false,
            ConfigFrom: { Network: '' },
            ConfigOnly: false,
            Containers: containers,
            Options: { 'com.docker.network.bridge.name': net.bridge },
            Labels: net.labels,
          });
        });
        printInspected(out, flags.format);
        return code;
      }),
    );
}
