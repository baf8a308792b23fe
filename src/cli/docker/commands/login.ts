// tsrun login [-u USER] [-p PASS | --password-stdin] [SERVER]
// Verifies the credentials with the registry (GET /v2/, token flow included), then saves them.
import type { Command } from 'commander';
import { UsageError } from '../../../errors.js';
import { action } from '../../common.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Ask on the terminal; `secret` hides what is typed. */
async function prompt(question: string, secret: boolean): Promise<string> {
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  if (secret) {
    const out = rl as unknown as { _writeToOutput: (s: string) => void };
    let asked = false;
    out._writeToOutput = (s: string) => {
      if (!asked) process.stdout.write(s);
      asked = true;
    };
  }
  const answer = await new Promise<string>((resolve) => rl.question(question, resolve));
  rl.close();
  if (secret) process.stdout.write('\n');
  return answer;
}

export function registerLogin(program: Command): Command {
  return program
    .command('login')
    .description('log in to a registry (Docker Hub when no server is given)')
    .argument('[server]', 'registry host, e.g. localhost:5000', 'docker.io')
    .option('-u, --username <user>', 'user name')
    .option('-p, --password <password>', 'password or token (prefer --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .action(
      action('tsrun', async (server: string, flags: { username?: string; password?: string; passwordStdin?: boolean }) => {
        if (flags.password !== undefined && flags.passwordStdin) throw new UsageError('--password and --password-stdin are mutually exclusive');
        const interactive = process.stdin.isTTY === true;
        let username = flags.username;
        if (flags.passwordStdin && !username) throw new UsageError('--password-stdin needs --username');
        if (!username) {
          if (!interactive) throw new UsageError('no --username given and stdin is not a terminal');
          username = (await prompt('Username: ', false)).trim();
        }
        let password = flags.password;
        if (flags.passwordStdin) password = await readStdin();
        if (password === undefined) {
          if (!interactive) throw new UsageError('no password given: use --password-stdin or --password');
          password = await prompt('Password: ', true);
        }
        if (!username || !password) throw new UsageError('user name and password must not be empty');
        if (flags.password !== undefined) process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');

        const { RegistryClient } = await import('../../../registry/client.js');
        const { normaliseServer, saveCredentials } = await import('../../../registry/credentials.js');
        const host = normaliseServer(server);
        await new RegistryClient().checkLogin(host, { username, secret: password });
        await saveCredentials(host, username, password);
        process.stdout.write('Login Succeeded\n');
      }),
    );
}
