// tsrun logout [SERVER]
import type { Command } from 'commander';
import { action } from '../../common.js';
import { stdout } from '../../stdout.js';

export function registerLogout(program: Command): Command {
  return program
    .command('logout')
    .description('forget the credentials of a registry (Docker Hub when no server is given)')
    .argument('[server]', 'registry host', 'docker.io')
    .action(
      action('tsrun', async (server: string) => {
        const { configKey, normaliseServer, removeCredentials } = await import('../../../registry/credentials.js');
        const host = normaliseServer(server);
        const removed = await removeCredentials(host);
        stdout.write(removed ? `Removing login credentials for ${configKey(host)}\n` : `Not logged in to ${configKey(host)}\n`);
      }),
    );
}
