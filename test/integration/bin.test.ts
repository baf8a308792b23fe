// The installed commands: bin/<cli> links to build/<cli>, the launcher (src/native/cli_launch.c) that
// starts the bundle with Node, also through symlinks (npm -g).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from '../support/tsrun-cli.js';
import { waitFor } from '../support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'tsrun-bin-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bin launchers', () => {
  for (const bin of ['tsrun', 'tsrkt', 'tsrun-oci']) {
    it(`${bin} runs from the checkout and through a symlink`, () => {
      const link = join(dir, bin);
      symlinkSync(join(REPO, 'bin', bin), link);
      for (const path of [join(REPO, 'bin', bin), link]) {
        expect(execFileSync(path, ['--help'], { encoding: 'utf8' })).toMatch(/usage:/i);
      }
    });
  }

  it('moves NODE_EXTRA_CA_CERTS aside so Node does not parse it at start-up', () => {
    const r = spawnSync(join(REPO, 'bin', 'tsrun'), ['--version'], {
      encoding: 'utf8',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem' },
    });
    expect(r.stdout.trim()).toBe('0.1.0');
    // Node warns "Ignoring extra certs from ..." when it reads the variable itself.
    expect(r.stderr).not.toMatch(/extra certs/);
    const direct = spawnSync(process.execPath, [join(REPO, 'dist', 'tsrun.cjs'), '--version'], {
      encoding: 'utf8',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem' },
    });
    expect(direct.stderr).toMatch(/extra certs/);
  });

  for (const bin of ['tsrun', 'tsrkt', 'tsrun-oci']) {
    it(`${bin}: the build's V8 code cache fits this Node, so a start does not compile the bundle`, () => {
      const bundle = join(REPO, 'dist', `${bin}.bundle.cjs`);
      // The entry's way: the bundle is a module function already (hack/build.mjs).
      const script = new Script(readFileSync(bundle, 'utf8'), { filename: bundle, cachedData: readFileSync(`${bundle}.cache`) });
      expect(script.cachedDataRejected).toBe(false);
    });

    it(`${bin}: the bundle runs in strict mode, as its ES module sources do under test`, () => {
      const bundle = join(REPO, 'dist', `${bin}.bundle.cjs`);
      const moduleFunction = new Script(readFileSync(bundle, 'utf8'), { filename: bundle }).runInThisContext() as () => void;
      // A strict function's `caller` may not be read.
      expect(() => (moduleFunction as unknown as { caller: unknown }).caller).toThrow(TypeError);
    });
  }

  it('leaves a pipe on its stdout blocking for the commands after it (its quick exit skips Node\'s reset of stdio only when there is none to do)', () => {
    const t = ['--root', join(dir, 'nb-root'), '--runroot', join(dir, 'nb-run')].join(' ');
    const tsrun = join(REPO, 'bin', 'tsrun');
    // A container for ps to look at (its state is read with the native addon, which the quick exit needs).
    writeFileSync(join(dir, 'empty.tar'), Buffer.alloc(1024));
    execFileSync(tsrun, [...t.split(' '), 'import', join(dir, 'empty.tar'), 'nb:1']);
    execFileSync(tsrun, [...t.split(' '), 'create', '--network', 'none', 'nb:1', '/none']);
    // ps opens process.stdout, which makes the pipe non-blocking until Node's exit resets it; the shell's next command shares that pipe.
    const flag = `python3 -c 'import fcntl, os; print("nonblocking" if fcntl.fcntl(1, fcntl.F_GETFL) & os.O_NONBLOCK else "blocking")'`;
    const r = spawnSync('sh', ['-c', `${tsrun} ${t} ps -a; ${flag}`], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^CONTAINER ID.*\/none.*\nblocking\n$/s);
    execFileSync(tsrun, [...t.split(' '), 'container', 'prune', '-f']);
  });

  /** Imports `<name>:1` into the store `t` names: an image of one static busybox, enough for a container that runs `true` or sleeps. */
  function importBusybox(t: string[], name: string): void {
    const rootfs = join(dir, `${name}-rootfs`);
    mkdirSync(join(rootfs, 'bin'), { recursive: true });
    execFileSync('cp', ['/bin/busybox', join(rootfs, 'bin', 'busybox')]);
    execFileSync('tar', ['-cf', join(dir, `${name}.tar`), '-C', rootfs, '.']);
    execFileSync(join(REPO, 'bin', 'tsrun'), [...t, 'import', join(dir, `${name}.tar`), `${name}:1`]);
  }

  /** The built-in modules tsrun loaded for a command line (from a preload that saves moduleLoadList). */
  function modulesLoadedBy(args: string[], expectedStatus: number): string[] {
    const preload = join(dir, 'loaded.cjs');
    const out = join(dir, 'loaded.txt');
    writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, process.moduleLoadList.join('\\n')));\n`);
    const t = ['--root', join(dir, 'root'), '--runroot', join(dir, 'run')];
    // Output to files: through a pipe, process.stdout and stderr are themselves net.Sockets.
    const out1 = openSync(join(dir, 'stdout.txt'), 'w');
    const out2 = openSync(join(dir, 'stderr.txt'), 'w');
    const r = spawnSync(process.execPath, ['-r', preload, join(REPO, 'dist', 'tsrun.cjs'), ...t, ...args], { stdio: ['ignore', out1, out2] });
    closeSync(out1);
    closeSync(out2);
    expect(r.status, readFileSync(join(dir, 'stderr.txt'), 'utf8')).toBe(expectedStatus);
    const loaded = readFileSync(out, 'utf8').split('\n');
    expect(loaded).toContain('NativeModule vm'); // the list is the real one
    return loaded;
  }

  it('maps its bundle from dist/ (mmap) instead of reading it into memory', async () => {
    // `events` streams until killed: long enough to look at its mappings. (The code cache is mapped
    // too, but only until V8 has read it and its Buffer is collected: no lasting trace to look for.)
    const cli = spawn(join(REPO, 'bin', 'tsrun'), ['--root', join(dir, 'm-root'), '--runroot', join(dir, 'm-run'), 'events'], { stdio: 'ignore' });
    const exited = new Promise((res) => cli.on('exit', res));
    const bundleMapping = new RegExp(`${join(REPO, 'dist', 'tsrun.bundle.cjs').replace(/[.]/g, '\\.')}\\n`);
    try {
      let maps = '';
      for (let i = 0; i < 100 && !bundleMapping.test(maps); i++) {
        await new Promise((res) => setTimeout(res, 20));
        maps = readFileSync(`/proc/${cli.pid}/maps`, 'utf8');
      }
      expect(maps).toMatch(bundleMapping);
    } finally {
      cli.kill();
      await exited;
    }
  });

  it('reads its bundle when the addon that maps it cannot be loaded', () => {
    const r = spawnSync(join(REPO, 'bin', 'tsrun'), ['--version'], { encoding: 'utf8', env: { ...process.env, TSRUN_BUILD_DIR: join(dir, 'no-build') } });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('0.1.0');
  });

  it('a command that needs no network or archive work does not load https, tls, zlib, crypto, or child_process and its sockets', () => {
    const loaded = modulesLoadedBy(['ps', '-a'], 0);
    for (const mod of ['https', 'tls', 'zlib', 'crypto', 'http', 'child_process', 'net', 'tty']) expect(loaded).not.toContain(`NativeModule ${mod}`);
  });

  it.skipIf(process.getuid?.() !== 0)('a run of a local image starts the helper without child_process, net, tty or crypto (root: it runs a container)', () => {
    const t = ['--root', join(dir, 'root'), '--runroot', join(dir, 'run')];
    writeFileSync(join(dir, 'empty.tar'), Buffer.alloc(1024)); // an empty tar archive
    execFileSync(process.execPath, [join(REPO, 'dist', 'tsrun.cjs'), ...t, 'import', join(dir, 'empty.tar'), 'tsrun-empty:latest']);
    // The image has no /missing: the helper runs and reports exec's failure (127), the whole launch path.
    const loaded = modulesLoadedBy(['run', '--rm', '--network', 'none', '--pull', 'never', 'tsrun-empty', '/missing'], 127);
    for (const mod of ['https', 'tls', 'zlib', 'crypto', 'http', 'child_process', 'net', 'tty']) expect(loaded).not.toContain(`NativeModule ${mod}`);
  });

  it.skipIf(process.getuid?.() !== 0)('quick commands with the cgroup lock head start end cleanly (its end during the CLI\'s exit once aborted it)', async () => {
    const t = ['--root', join(dir, 'q-root'), '--runroot', join(dir, 'q-run')];
    importBusybox(t, 'q');
    // Output to a pipe (Node's own exit then runs, not the quick _exit), as in $(tsrun run -d ...).
    const codes = Array.from({ length: 20 }, () => spawnSync(join(REPO, 'bin', 'tsrun'), [...t, 'run', '-d', '--rm', '--network', 'none', 'q:1', '/bin/busybox', 'true'], { encoding: 'utf8' }).status);
    expect(codes.filter((c) => c !== 0)).toEqual([]);
    // Their monitors' exit commands remove them: let them finish before this dir goes (afterAll),
    // or a removal racing it leaves an overlay mounted.
    await waitFor(() => execFileSync(join(REPO, 'bin', 'tsrun'), [...t, 'ps', '-a', '-q'], { encoding: 'utf8' }) === '', 'the --rm containers to be removed');
  });

  it.skipIf(process.getuid?.() !== 0)('a command line that may start a container forks the cgroup lock head start before Node, and the CLI reaps it', async () => {
    const t = ['--root', join(dir, 'hs-root'), '--runroot', join(dir, 'hs-run')];
    importBusybox(t, 'hs');
    /** Node's environment as the launcher exec'd it (the CLI deletes the variable from process.env, not from here). */
    const warmerOf = (pid: number) => /(?:^|\0)TSRUN_CGROUP_WARMER=(\d+)\0/.exec(readFileSync(`/proc/${pid}/environ`, 'latin1'))?.[1];
    // `events` streams until killed and starts no container: no head start.
    const events = spawn(join(REPO, 'bin', 'tsrun'), [...t, 'events'], { stdio: 'ignore' });
    const eventsExited = new Promise((res) => events.on('exit', res));
    const cli = spawn(join(REPO, 'bin', 'tsrun'), [...t, 'run', '--rm', '--network', 'none', 'hs:1', '/bin/busybox', 'sleep', '2'], { stdio: 'ignore' });
    const exited = new Promise((res) => cli.on('exit', res));
    try {
      await new Promise((res) => setTimeout(res, 1000));
      expect(warmerOf(events.pid!)).toBeUndefined();
      const warmer = warmerOf(cli.pid!);
      expect(warmer).toMatch(/^\d+$/);
      // Forked by the launcher that became the CLI, over long ago (40 ms at most) and reaped: not a zombie under the CLI.
      const children = readFileSync(`/proc/${cli.pid}/task/${cli.pid}/children`, 'utf8').trim().split(' ').filter(Boolean);
      expect(children).not.toContain(warmer);
      const states = children.map((c) => /^State:\s+(\S)/m.exec(readFileSync(`/proc/${c}/status`, 'utf8'))![1]);
      expect(states.filter((s) => s === 'Z')).toEqual([]);
    } finally {
      events.kill();
      await Promise.all([exited, eventsExited]);
    }
  });
});
