// A stopped container carries no overlay mount, as with Docker: its rootfs is unmounted once
// its exit is handled (the monitor's exit command, an attached CLI, stop), and mounted again
// by start, while diff, cp, export and commit keep working on it. A start is never undone by
// the late exit handler of the run before it (stop then start, in a loop). runc's containers run
// under tsrun's monitor too, and its exit command unmounts them the same way. Real containers from the project's busybox image,
// pulled from the real docker-registry on 127.0.0.1. Run as root under the integration lock.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TsrunCli } from '../support/tsrun-cli.js';
import { usePulledBusybox } from '../support/pulled-busybox.js';
import { waitFor } from '../support/wait.js';

let cli: TsrunCli;
let image: string;
usePulledBusybox((env) => ({ cli, image } = env));

let host: string;
beforeAll(() => {
  host = mkdtempSync('/tmp/tsrun-rootfs-unmount-');
});
afterAll(() => {
  if (host) rmSync(host, { recursive: true, force: true });
});

const ok = (args: string[]) => cli.ok(args);
const inspect = (name: string, template: string) => ok(['inspect', '-f', template, name]).trim();
const rootfsOf = (name: string) => join(cli.root, 'containers', inspect(name, '{{.Id}}'), 'rootfs');

/** Whether the host's mount table has the container's rootfs. */
function mounted(name: string): boolean {
  const rootfs = rootfsOf(name);
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === rootfs);
}

const waitUnmounted = (name: string) => waitFor(() => !mounted(name), `the rootfs of ${name} to be unmounted`);

describe('a stopped container has no rootfs mount', () => {
  it('after a detached run exits; start -a mounts it again and sees the first run\'s file; diff, cp, export and commit work on it', async () => {
    ok(['run', '-d', '--name', 'short', image, 'sh', '-c', 'echo kept >> /kept; cat /kept']);
    await waitFor(() => inspect('short', '{{.State.Status}}') === 'exited', 'short to exit');
    await waitUnmounted('short');

    const again = cli.run(['start', '-a', 'short']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe('kept\nkept\n'); // its upper dir kept the first run's line
    await waitUnmounted('short');

    expect(ok(['diff', 'short'])).toBe('A /kept\n');
    ok(['cp', 'short:/kept', join(host, 'kept')]);
    expect(readFileSync(join(host, 'kept'), 'utf8')).toBe('kept\nkept\n');
    expect(mounted('short')).toBe(false); // cp mounted it for its copy only

    const tar = join(host, 'short.tar');
    ok(['export', '-o', tar, 'short']);
    const names = spawnSync('tar', ['-tf', tar], { encoding: 'utf8' }).stdout.split('\n');
    expect(names).toContain('kept');
    expect(names).toContain('bin/busybox');
    expect(mounted('short')).toBe(false);

    ok(['commit', 'short', 'committed-short:1']);
    const fromCommit = cli.run(['run', '--rm', '--pull', 'never', 'committed-short:1', 'cat', '/kept']);
    expect(fromCommit.stdout).toBe('kept\nkept\n');
    expect(mounted('short')).toBe(false);
    ok(['rm', 'short']);
    ok(['rmi', 'committed-short:1']);
  });

  it('after an attached run; a file cp puts into it is there at the next start', () => {
    expect(ok(['run', '--name', 'attached', image, 'sh', '-c', 'cat /in 2>/dev/null || echo no file'])).toBe('no file\n');
    expect(mounted('attached')).toBe(false); // the CLI handled the exit before returning
    const f = join(host, 'in');
    writeFileSync(f, 'copied in\n');
    ok(['cp', f, 'attached:/in']);
    expect(mounted('attached')).toBe(false);
    const r = cli.run(['start', '-a', 'attached']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('copied in\n');
    ok(['rm', 'attached']);
  });

  it('after stop; restart brings it back mounted, and its stopped run\'s exit handler leaves it so', async () => {
    ok(['run', '-d', '--name', 'stopped', image, 'sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done']);
    expect(mounted('stopped')).toBe(true);
    ok(['stop', '-t', '5', 'stopped']);
    expect(mounted('stopped')).toBe(false); // stop unmounts before it returns

    ok(['restart', '-t', '5', 'stopped']);
    expect(inspect('stopped', '{{.State.Running}}')).toBe('true');
    expect(mounted('stopped')).toBe(true);
    ok(['restart', '-t', '5', 'stopped']); // of a running one
    await sleep(500); // the exit handler of the run that restart stopped has had its chance
    expect(inspect('stopped', '{{.State.Running}}')).toBe('true');
    expect(mounted('stopped')).toBe(true);
    expect(ok(['exec', 'stopped', 'cat', '/etc/hostname']).trim()).toBe(inspect('stopped', '{{.Config.Hostname}}'));

    ok(['stop', '-t', '5', 'stopped']);
    expect(mounted('stopped')).toBe(false);
    ok(['rm', 'stopped']);
  });

  it('after --restart on-failure:2 gave up', async () => {
    ok(['run', '-d', '--restart', 'on-failure:2', '--name', 'failing', image, 'sh', '-c', 'exit 3']);
    await waitFor(() => inspect('failing', '{{.RestartCount}} {{.State.Status}}') === '2 exited', 'failing to be restarted twice and exit', 30_000);
    await waitUnmounted('failing');
    await sleep(700); // more than the next backoff would be: nothing starts it again
    expect(inspect('failing', '{{.RestartCount}} {{.State.Status}}')).toBe('2 exited');
    expect(mounted('failing')).toBe(false);
    ok(['rm', 'failing']);
  });
});

/**
 * Runs the monitor's exit command for `name` (`container cleanup`) over and over in `loops`
 * parallel shell loops: late exit handlers landing at any moment of a start. Returns their stop.
 */
function hammerExitHandler(name: string, loops: number): () => void {
  const argv = [process.execPath, ...cli.args(['container', 'cleanup', inspect(name, '{{.Id}}')])].map((a) => `'${a}'`).join(' ');
  const children = Array.from({ length: loops }, () => spawn('sh', ['-c', `while :; do ${argv} >/dev/null 2>&1; done`], { stdio: 'ignore', detached: true }));
  return () => {
    for (const child of children) process.kill(-child.pid!, 'SIGKILL'); // the loop's group: the shell and its tsrun
  };
}

describe('start against the exit handlers', () => {
  it('stop then start, again and again, with exit handlers running all along: each start runs with its rootfs mounted', async () => {
    ok(['run', '-d', '--name', 'flip', image, 'sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done']);
    const stopHammer = hammerExitHandler('flip', 3);
    try {
      for (let i = 0; i < 10; i++) {
        ok(['stop', '-t', '5', 'flip']);
        ok(['start', 'flip']);
        expect(inspect('flip', '{{.State.Running}}'), `start ${i}`).toBe('true');
        expect(mounted('flip'), `start ${i}`).toBe(true);
      }
    } finally {
      stopHammer();
    }
    await sleep(800); // the last exit handler of the loop has run by now
    expect(inspect('flip', '{{.State.Running}}')).toBe('true');
    expect(mounted('flip')).toBe(true);
    // The container's root is the host's overlay still: a file written inside shows in its upper dir.
    ok(['exec', 'flip', 'sh', '-c', 'echo inside > /written']);
    expect(readFileSync(join(rootfsOf('flip'), 'written'), 'utf8')).toBe('inside\n');
    ok(['rm', '-f', 'flip']);
  });

  it('a container that exits at once, started again and again: each run sees its rootfs', async () => {
    ok(['create', '--name', 'quick', image, 'sh', '-c', 'test -x /bin/busybox && echo ran >> /runs']);
    expect(mounted('quick')).toBe(false); // create leaves no mount, as Docker's
    for (let i = 0; i < 5; i++) {
      ok(['start', 'quick']);
      await waitFor(() => inspect('quick', '{{.State.Status}}') === 'exited', 'quick to exit');
    }
    await waitUnmounted('quick');
    const runs = cli.run(['start', '-a', 'quick']);
    expect(runs.code, runs.stderr).toBe(0);
    expect(inspect('quick', '{{.State.ExitCode}}')).toBe('0');
    ok(['cp', 'quick:/runs', join(host, 'runs')]);
    expect(readFileSync(join(host, 'runs'), 'utf8')).toBe('ran\n'.repeat(6));
    ok(['rm', 'quick']);
  });
});

describe('--rm containers (their overlay is volatile: the kernel refuses to mount it again once unmounted)', () => {
  it('create --rm, cp into it, then start -a: it runs and is removed', () => {
    ok(['create', '--rm', '--name', 'once', '--network', 'none', image, 'cat', '/in']);
    const f = join(host, 'once-in');
    writeFileSync(f, 'copied\n');
    ok(['cp', f, 'once:/in']);
    const r = cli.run(['start', '-a', 'once']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('copied\n');
    expect(cli.run(['inspect', 'once']).code).not.toBe(0);
  });
});

describe('after a kill -9', () => {
  it('of a start between its mounts and the container: ps lists it not running, stop unmounts, start runs it, rm leaves no mount', () => {
    ok(['create', '--name', 'crashed', image, 'sleep', '300']);
    const killed = cli.run(['start', 'crashed'], { env: { TSRUN_TEST_CRASH_AT: 'after-volume-mount' } });
    expect(killed.code).not.toBe(0);
    expect(mounted('crashed')).toBe(true); // as the kill left it
    expect(ok(['ps', '-a', '--filter', 'name=crashed', '--format', '{{.Status}}'])).toBe('Created\n'); // killed before it recorded the start
    ok(['stop', 'crashed']);
    expect(mounted('crashed')).toBe(false);
    ok(['start', 'crashed']);
    expect(inspect('crashed', '{{.State.Running}}')).toBe('true');
    expect(mounted('crashed')).toBe(true);
    const rootfs = rootfsOf('crashed');
    ok(['rm', '-f', 'crashed']);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(` ${rootfs} `);
  });

  it('of a start between making the cgroup and recording it: rm removes the cgroup no launcher state names', () => {
    ok(['create', '--name', 'cgcrash', '--network', 'none', image, 'true']);
    const id = inspect('cgcrash', '{{.Id}}');
    // Its directory in every hierarchy: /sys/fs/cgroup/tsrun/<id> (cgroup2), /sys/fs/cgroup/<hierarchy>/tsrun/<id> (v1, hybrid).
    const cgroupDirs = () =>
      [join('/sys/fs/cgroup', 'tsrun', id), ...readdirSync('/sys/fs/cgroup').map((h) => join('/sys/fs/cgroup', h, 'tsrun', id))].filter((d) => existsSync(d));
    const killed = cli.run(['start', 'cgcrash'], { env: { TSRUN_TEST_CRASH_AT: 'after-cgroup-create' } });
    expect(killed.code).not.toBe(0);
    expect(cgroupDirs().length).toBeGreaterThan(0); // as the kill left it
    ok(['rm', '-f', 'cgcrash']);
    expect(cgroupDirs()).toEqual([]);
  });

  it('of a start between making its launcher state directory and recording it: the next start runs it', () => {
    ok(['create', '--name', 'statecrash', '--network', 'none', image, 'echo', 'ran']);
    const killed = cli.run(['start', 'statecrash'], { env: { TSRUN_TEST_CRASH_AT: 'after-cgroup-create' } });
    expect(killed.code).not.toBe(0);
    // The directory without its record used to make every later start say "already exists".
    const r = cli.run(['start', '-a', 'statecrash']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('ran\n');
    ok(['rm', 'statecrash']);
  });
});

describe('a container made before the flat layout', () => {
  it('(its bundle and etc files in bundle/ and etc/) starts, runs with its files, and rm removes it all', () => {
    ok(['create', '--name', 'oldlayout', '--hostname', 'oldhost', '--network', 'none', image, 'sh', '-c', 'cat /etc/hostname; head -1 /etc/hosts']);
    const dir = join(cli.root, 'containers', inspect('oldlayout', '{{.Id}}'));
    // What an older tsrun wrote: config.json in bundle/, its mounts' sources in etc/.
    mkdirSync(join(dir, 'bundle'));
    mkdirSync(join(dir, 'etc'));
    for (const f of ['hostname', 'hosts', 'resolv.conf']) renameSync(join(dir, f), join(dir, 'etc', f));
    const spec = readFileSync(join(dir, 'config.json'), 'utf8');
    writeFileSync(join(dir, 'bundle', 'config.json'), spec.replaceAll(`"${dir}/hostname"`, `"${dir}/etc/hostname"`).replaceAll(`"${dir}/hosts"`, `"${dir}/etc/hosts"`).replaceAll(`"${dir}/resolv.conf"`, `"${dir}/etc/resolv.conf"`));
    rmSync(join(dir, 'config.json'));
    const r = cli.run(['start', '-a', 'oldlayout']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('oldhost\n127.0.0.1\tlocalhost\n');
    ok(['rm', 'oldlayout']);
    expect(existsSync(dir)).toBe(false);
  });

  it('a new one keeps its config.json and etc files in its own directory', () => {
    ok(['create', '--name', 'newlayout', '--network', 'none', image, 'true']);
    const dir = join(cli.root, 'containers', inspect('newlayout', '{{.Id}}'));
    const files = readdirSync(dir);
    expect(files).toEqual(expect.arrayContaining(['config.json', 'hostname', 'hosts', 'record.json', 'resolv.conf', 'rootfs', 'upper', 'work']));
    expect(files.filter((f) => f === 'bundle' || f === 'etc')).toEqual([]);
    ok(['rm', 'newlayout']);
  });
});

describe('runc as the runtime (under our monitor)', () => {
  it('stop unmounts; start mounts again; an exited one is unmounted by its exit command', async () => {
    ok(['run', '-d', '--runtime', 'runc', '--name', 'byrunc', image, 'sleep', '300']);
    expect(mounted('byrunc')).toBe(true);
    ok(['stop', '-t', '1', 'byrunc']);
    expect(mounted('byrunc')).toBe(false);
    ok(['start', 'byrunc']);
    expect(inspect('byrunc', '{{.State.Running}}')).toBe('true');
    expect(mounted('byrunc')).toBe(true);
    ok(['rm', '-f', 'byrunc']);

    ok(['run', '-d', '--runtime', 'runc', '--name', 'runcshort', image, 'true']);
    await waitFor(() => inspect('runcshort', '{{.State.Status}}') === 'exited', 'runcshort to exit');
    await waitUnmounted('runcshort'); // by its exit command, with no other command
    ok(['rm', 'runcshort']);
  });
});
