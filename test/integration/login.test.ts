// tsrun login / logout against the real docker-registry (htpasswd and token auth).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type RunningRegistry } from '../support/registry-server.js';

const TSRUN = resolve(__dirname, '../../dist/tsrun.cjs');

/** Asynchronous on purpose: the token issuer lives in this process. */
function tsrun(args: string[], env: NodeJS.ProcessEnv, input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [TSRUN, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe.each(['basic', 'token'] as const)('tsrun login with auth=%s', (auth) => {
  let reg: RunningRegistry;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    reg = await startRegistry({ auth });
    dir = mkdtempSync(join(tmpdir(), 'tsrun-login-'));
    env = { DOCKER_CONFIG: dir, TSRUN_REGISTRIES_CONFIG: join(dir, 'none.json') };
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ psFormat: 'keep-me' }));
  });
  afterAll(async () => {
    await reg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a wrong password and saves nothing', async () => {
    const r = await tsrun(['login', '-u', reg.credentials.username, '--password-stdin', reg.host], env, 'wrong\n');
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/unauthorized/);
    expect(r.stderr).toContain(`"${reg.credentials.username}"`);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).auths).toBeUndefined();
  });

  it('logs in with --password-stdin, saving base64 auth with mode 0600', async () => {
    const r = await tsrun(['login', '-u', reg.credentials.username, '--password-stdin', reg.host], env, `${reg.credentials.password}\n`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('Login Succeeded\n');
    expect(r.code).toBe(0);
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(cfg.psFormat).toBe('keep-me');
    expect(Buffer.from(cfg.auths[reg.host].auth, 'base64').toString()).toBe(`${reg.credentials.username}:${reg.credentials.password}`);
    expect(statSync(join(dir, 'config.json')).mode & 0o777).toBe(0o600);
  });

  it('warns about -p and rejects bad usage', async () => {
    const r = await tsrun(['login', '-u', reg.credentials.username, '-p', reg.credentials.password, reg.host], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/--password-stdin/);
    const both = await tsrun(['login', '-u', 'x', '-p', 'y', '--password-stdin', reg.host], env);
    expect(both.code).toBe(125);
    expect(both.stderr).toMatch(/mutually exclusive/);
  });

  it('logs out', async () => {
    const r = await tsrun(['logout', reg.host], env);
    expect(r.stdout).toBe(`Removing login credentials for ${reg.host}\n`);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).auths).toEqual({});
    const again = await tsrun(['logout', reg.host], env);
    expect(again.stdout).toBe(`Not logged in to ${reg.host}\n`);
  });

  it('names the host when nothing listens there', async () => {
    const r = await tsrun(['login', '-u', 'a', '--password-stdin', '127.0.0.1:1'], env, 'b\n');
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/cannot connect to 127\.0\.0\.1:1 .*connection refused/);
  });
});
