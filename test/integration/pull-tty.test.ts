// tsrun pull's output on a terminal and off it, end to end: the built CLI
// pulls a small image from the real registry (docker-registry) into a fresh
// store, once under a pseudo-terminal (util-linux `script`), once with stdout
// a file. A terminal gets a line per layer redrawn in place with progress
// bars; a file gets Docker's plain lines and no escape sequences; -q prints
// the reference only, terminal or not.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOciLayout, tarOf } from '../support/oci-layout.js';
import { pushImage, startRegistry, type RunningRegistry } from '../support/registry-server.js';
import { TsrunCli } from '../support/tsrun-cli.js';

let reg: RunningRegistry;
let work: string;
let image: string;
let layerIds: string[];
const clis: TsrunCli[] = [];

/** A CLI with a store of its own, so every pull downloads the image afresh. */
function freshCli(): TsrunCli {
  const c = new TsrunCli();
  clis.push(c);
  return c;
}

function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Runs a command to completion; stdout to a pipe (or to the file `stdoutFile`), stdin empty. */
function runCommand(argv: string[], stdoutFile?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const fd = stdoutFile === undefined ? undefined : openSync(stdoutFile, 'w');
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', fd ?? 'pipe', 'pipe'] });
    if (fd !== undefined) closeSync(fd);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (stdoutFile !== undefined) stdout = readFileSync(stdoutFile, 'utf8');
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr });
    });
  });
}

/** `tsrun ARGS` under a pseudo-terminal: `script` runs it with a pty as its stdin, stdout and stderr. */
function underTerminal(cli: TsrunCli, args: string[]) {
  const command = [process.execPath, ...cli.args(args)].map(shellQuote).join(' ');
  return runCommand(['script', '-qec', command, '/dev/null']);
}

function toFile(cli: TsrunCli, args: string[]) {
  return runCommand([process.execPath, ...cli.args(args)], join(work, `stdout-${Math.random().toString(36).slice(2)}`));
}

// ESC, as in the cursor moves "\x1b[3A" and line clears "\x1b[2K" of a redrawn line.
const ESC = '\x1b';
// "[=====>      ]  1.05MB/2.1MB": Docker's bar with the sizes done and in all.
const BAR = /\[=*>? *\] +\d+(\.\d+)?[kM]?B\/\d+(\.\d+)?[kM]?B/;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tsrun-pull-tty-'));
  reg = await startRegistry({ auth: 'none' });
  // Two layers, one over a megabyte on the wire (random bytes do not compress) so its bar counts in MB.
  const layout = buildOciLayout(join(work, 'layout'), 'v1', [
    tarOf([{ path: 'big/' }, { path: 'big/data.bin', content: randomBytes(1_500_000) }]),
    tarOf([{ path: 'etc/' }, { path: 'etc/hello', content: 'hello from tsrun\n' }]),
  ]);
  layerIds = layout.layers.map((l) => l.digest.slice(7, 19));
  await pushImage(layout.dir, reg.host, 'tty/app:v1');
  image = `${reg.host}/tty/app:v1`;
}, 120_000);

afterAll(async () => {
  for (const c of clis) c.destroy();
  await reg?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('tsrun pull output', () => {
  it('on a terminal: every layer line redrawn in place, with progress bars', async () => {
    const r = await underTerminal(freshCli(), ['pull', image]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const out = r.stdout;
    // Cursor up to a layer's line, clear it, rewrite it.
    expect(out).toMatch(/\x1b\[\d+A\r\x1b\[2K/);
    expect(out).toMatch(/\x1b\[\d+B/);
    for (const id of layerIds) {
      expect(out).toContain(`${id}: Pulling fs layer`);
      expect(out).toMatch(new RegExp(`${id}: Downloading +${BAR.source}`));
      expect(out).toContain(`${id}: Pull complete`);
    }
    // The big layer's bar counts megabytes.
    expect(out).toMatch(new RegExp(`${layerIds[0]}: Downloading +\\[=*>? *\\] +\\d+(\\.\\d+)?[kM]?B/1\\.\\d+MB`));
    expect(out).toContain(`Status: Downloaded newer image for ${image}`);
  });

  it('with stdout a file: plain lines, as docker pull prints them, and no escape sequences', async () => {
    const r = await toFile(freshCli(), ['pull', image]);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).not.toContain(ESC);
    expect(out).not.toMatch(BAR);
    const lines = out.split('\n');
    expect(lines[0]).toBe('v1: Pulling from tty/app');
    for (const id of layerIds) {
      expect(lines).toContain(`${id}: Pulling fs layer`);
      expect(lines).toContain(`${id}: Pull complete`);
      // One line per state change: never two alike for a layer.
      const mine = lines.filter((l) => l.startsWith(`${id}: `));
      expect(new Set(mine).size).toBe(mine.length);
    }
    expect(lines).toContainEqual(expect.stringMatching(/^Digest: sha256:[0-9a-f]{64}$/));
    expect(lines.slice(-3)).toEqual([`Status: Downloaded newer image for ${image}`, image, '']);
  });

  it('-q prints the reference only, to a file and on a terminal', async () => {
    const file = await toFile(freshCli(), ['pull', '-q', image]);
    expect(file.code, file.stderr).toBe(0);
    expect(file.stdout).toBe(`${image}\n`);
    const tty = await underTerminal(freshCli(), ['pull', '-q', image]);
    expect(tty.code, tty.stdout).toBe(0);
    // The pty turns "\n" into "\r\n".
    expect(tty.stdout).toBe(`${image}\r\n`);
  });
});
