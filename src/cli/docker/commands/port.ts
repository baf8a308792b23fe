// tsrun port CONTAINER [PRIVATE_PORT[/PROTO]]: the container's published ports, or its pod's
import type { Command } from 'commander';
import { networkPaths } from '../../../engine/container-network.js';
import { NotFoundError } from '../../../errors.js';
import { readEndpoint } from '../../../network/index.js';
import { action, contextOf } from '../../common.js';
import { containersOf } from '../engine-access.js';
import { stdout } from '../../stdout.js';

export function registerPort(program: Command): void {
  program
    .command('port')
    .description('list port mappings of a container (or of the pod it belongs to)')
    .argument('<container>')
    .argument('[private-port]', 'PORT[/PROTO]')
    .action(
      action('tsrun', (name: string, privatePort: string | undefined, _flags: unknown, self: Command) => {
        const record = containersOf(self).lookup(name);
        const owner = record.pod ?? record.id;
        let ports = readEndpoint(networkPaths(contextOf(self)).stateDir, owner)?.ports ?? [];
        if (privatePort) {
          const [port, proto = 'tcp'] = privatePort.split('/');
          ports = ports.filter((p) => String(p.containerPort) === port && p.protocol === proto);
          if (ports.length === 0) throw new NotFoundError('public port', `${privatePort} of container ${name} (no such port is published)`);
          for (const p of ports) stdout.write(`${p.hostIp || '0.0.0.0'}:${p.hostPort}\n`);
          return;
        }
        for (const p of ports) stdout.write(`${p.containerPort}/${p.protocol} -> ${p.hostIp || '0.0.0.0'}:${p.hostPort}\n`);
      }),
    );
}
