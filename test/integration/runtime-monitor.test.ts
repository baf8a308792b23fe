// An external OCI runtime's containers (--runtime runc) under tsrun's own monitor, as Podman's
// conmon keeps runc's: the output reaches `logs`, inspect shows the real exit code and signal
// deaths, the exit command unmounts the rootfs, applies --rm and restart policies, a container
// with a terminal (whose pty runc sends the monitor) can be attached to as ours, and a
// runtime whose create fails leaves nothing behind. Real runc, real containers from the
// project's busybox image, pulled from the docker-registry on 127.0.0.1. Root, under the
// integration lock.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TsrunCli } from '../support/tsrun-cli.js';
import { usePulledBusybox } from '../support/pulled-busybox.js';
import { CTRL_P_Q, Session, tsrunLine } from '../support/pty-session.js';
import { waitFor } from '../support/wait.js';

let cli: TsrunCli;
let image: string;
usePulledBusybox((env) => ({ cli, image } = env));

let host: string;
beforeAll(() => {
  host = mkdtempSync('/tmp/tsrun-runtime-monitor-');
});
afterAll(() => {
  if (host) rmSync(host, { recursive: true, force: true });
});

const ok = (args: string[]) => cli.ok(args).trim();
const inspect = (name: string, template: string) => ok(['inspect', '-f', template, name]);

/** Whether the host's mount table has the container's rootfs. */
function mounted(id: string): boolean {
  const rootfs = join(cli.root, 'containers', id, 'rootfs');
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === rootfs);
}

/** What the runtime's root and the monitors' directory hold. */
function runtimeState(root: string): string[] {
  const list = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);
  return [...list(root), ...list(`${root}.monitors`)];
}

describe('runc under our monitor, detached', () => {
  it('logs the output, records the exit code and unmounts the rootfs at the exit with no further command', async () => {
    const id = ok(['run', '-d', '--runtime', 'runc', '--network', 'none', image, 'sh', '-c', 'echo hi; echo oops >&2; exit 3']);
    await waitFor(() => inspect(id, '{{.State.Status}}') === 'exited', 'the container to exit');
    expect(inspect(id, '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 3');
    const logs = cli.run(['logs', id]);
    expect(logs.stdout).toBe('hi\n');
    expect(logs.stderr).toBe('oops\n');
    await waitFor(() => !mounted(id), 'the rootfs to be unmounted by the exit command');
    ok(['rm', id]);
  });

  it('a signal death reads as Docker reports it: 137 after kill', async () => {
    const killed = ok(['run', '-d', '--runtime', 'runc', '--network', 'none', image, 'sleep', '300']);
    expect(inspect(killed, '{{.State.Running}}')).toBe('true');
    expect(mounted(killed)).toBe(true);
    // The monitor stays small (its target: at most 1 MB RSS), as in front of our own containers.
    const monitorPid = JSON.parse(readFileSync(join(cli.runroot, 'runtime-runc.monitors', killed, 'state.json'), 'utf8')).monitorPid as number;
    const rssKb = Number(/VmRSS:\s*(\d+)/.exec(readFileSync(`/proc/${monitorPid}/status`, 'utf8'))?.[1]);
    expect(rssKb).toBeGreaterThan(0);
    expect(rssKb).toBeLessThanOrEqual(1024);
    ok(['kill', killed]);
    await waitFor(() => inspect(killed, '{{.State.Status}}') === 'exited', 'the killed container to exit');
    expect(inspect(killed, '{{.State.ExitCode}}')).toBe('137');
    await waitFor(() => !mounted(killed), 'the killed container\'s rootfs to be unmounted');
    ok(['rm', killed]);
  });

  it('--rm removes it at its exit: no record, no mount, no runtime state', async () => {
    const id = ok(['run', '-d', '--rm', '--runtime', 'runc', '--network', 'none', image, 'sh', '-c', 'sleep 0.3']);
    await waitFor(() => cli.run(['inspect', id]).code !== 0, 'the --rm container to be removed', 15_000);
    expect(ok(['ps', '-a', '-q', '--no-trunc'])).not.toContain(id);
    expect(mounted(id)).toBe(false);
    expect(runtimeState(join(cli.runroot, 'runtime-runc'))).not.toContain(id);
  });

  it('--restart on-failure:2 restarts it twice, then leaves it exited with its code', async () => {
    const id = ok(['run', '-d', '--restart', 'on-failure:2', '--runtime', 'runc', '--network', 'none', image, 'sh', '-c', 'echo run; exit 7']);
    await waitFor(
      () => inspect(id, '{{.RestartCount}} {{.State.Status}}') === '2 exited' && !cli.run(['inspect', '-f', '{{.State.Restarting}}', id]).stdout.includes('true'),
      'two restarts',
      30_000,
    );
    expect(inspect(id, '{{.State.ExitCode}}')).toBe('7');
    expect(cli.run(['logs', id]).stdout).toBe('run\nrun\nrun\n');
    await waitFor(() => !mounted(id), 'the rootfs to be unmounted after the last run');
    ok(['rm', id]);
  }, 60_000);

  it('-di: its stdin ends at once (without a terminal a runtime\'s container has no attach socket), so cat exits', async () => {
    const id = ok(['run', '-di', '--runtime', 'runc', '--network', 'none', image, 'sh', '-c', 'cat; echo eof']);
    await waitFor(() => inspect(id, '{{.State.Status}}') === 'exited', 'cat to see the end of its input', 10_000);
    expect(cli.run(['logs', id]).stdout).toBe('eof\n');
    ok(['rm', id]);
  });

  it('reads as created, not exited, while the runtime\'s create runs', async () => {
    const runtime = join(host, 'slow-runtime');
    writeFileSync(runtime, '#!/bin/sh\ncase " $* " in *" create "*) sleep 1;; esac\nexec runc "$@"\n');
    chmodSync(runtime, 0o755);
    const run = spawn(process.execPath, cli.args(['run', '-d', '--name', 'slowcreate', '--runtime', runtime, '--network', 'none', image, 'sleep', '30']), { stdio: 'ignore' });
    const ran = new Promise<number | null>((res) => run.on('exit', res));
    try {
      await waitFor(() => cli.run(['inspect', 'slowcreate']).code === 0, 'the record');
      const id = inspect('slowcreate', '{{.Id}}');
      const monitors = join(cli.runroot, `runtime-${runtime.replace(/[^a-zA-Z0-9]/g, '_')}.monitors`, id);
      await waitFor(() => existsSync(join(monitors, 'state.json')), 'the monitor to start');
      expect(inspect('slowcreate', '{{.State.Status}}')).toBe('created'); // runc knows nothing of it yet
      expect(await ran).toBe(0);
      expect(inspect('slowcreate', '{{.State.Status}}')).toBe('running');
    } finally {
      await ran;
      cli.run(['rm', '-f', 'slowcreate']);
    }
  });

  it('rm -f refuses while the runtime cannot be run and the monitor still keeps the container', () => {
    // A runtime of ours that runc stands behind, then is made unrunnable.
    const runtime = join(host, 'vanishing-runtime');
    writeFileSync(runtime, '#!/bin/sh\nexec runc "$@"\n');
    chmodSync(runtime, 0o755);
    const id = ok(['run', '-d', '--runtime', runtime, '--network', 'none', image, 'sleep', '300']);
    chmodSync(runtime, 0o644);
    const r = cli.run(['rm', '-f', id]);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('monitor still runs');
    try {
      // Still known, still mounted, its monitor still there (`ps` cannot ask the runtime now).
      expect(cli.run(['inspect', id]).code).toBe(0);
      expect(mounted(id)).toBe(true);
      expect(existsSync(join(cli.runroot, `runtime-${runtime.replace(/[^a-zA-Z0-9]/g, '_')}.monitors`, id))).toBe(true);
    } finally {
      chmodSync(runtime, 0o755);
      ok(['rm', '-f', id]);
    }
    expect(mounted(id)).toBe(false);
  });
});

describe('runc under our monitor, attached', () => {
  it('relays the output, returns the exit code and logs it too', () => {
    const r = cli.run(['run', '--name', 'attached-runc', '--runtime', 'runc', '--network', 'none', image, 'sh', '-c', 'echo out; echo err >&2; exit 4']);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toBe('err\n');
    expect(inspect('attached-runc', '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 4');
    expect(cli.run(['logs', 'attached-runc']).stdout).toBe('out\n');
    ok(['rm', 'attached-runc']);
  });

  it('-i relays our stdin to the container, and --rm removes it', () => {
    const r = cli.run(['run', '-i', '--rm', '--runtime', 'runc', '--network', 'none', image, 'sh', '-c', 'cat; echo done'], { input: 'piped\n' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('piped\ndone\n');
    expect(runtimeState(join(cli.runroot, 'runtime-runc'))).toEqual([]);
  });
});

describe('runc with a terminal under our monitor (the runtime sends it the pty)', () => {
  const running = (name: string) => inspect(name, '{{.State.Running}}');

  it('run -dit, then attach in a terminal: input, output, its size, detach keys; logs has it; rm -f cleans up', async () => {
    const id = ok(['run', '-dit', '--name', 'rt-sh', '--runtime', 'runc', '--network', 'none', image, 'sh']);
    expect(running('rt-sh')).toBe('true');
    const s = Session.shellInPty(`exec ${tsrunLine(cli, ['attach', 'rt-sh'])}`);
    await s.waitFor(/\/ # /); // the shell redraws its prompt on the resize attach makes
    // The size is the attaching terminal's: the resize reached runc's pty through the monitor.
    s.write('echo marker-$((6*7)); tty; stty size\r');
    await s.waitFor(/marker-42\r*\n\/dev\/pts\/\d+\r*\n33 91/);
    s.write(CTRL_P_Q);
    expect(await s.exitCode()).toBe(1); // Docker's attach: "read escape sequence", exit 1
    expect(s.out).toMatch(/read escape sequence/);
    expect(running('rt-sh')).toBe('true');
    expect(cli.run(['logs', 'rt-sh']).stdout).toMatch(/marker-42\r?\n/);
    // The monitor stays small with a terminal too.
    const monitorPid = JSON.parse(readFileSync(join(cli.runroot, 'runtime-runc.monitors', id, 'state.json'), 'utf8')).monitorPid as number;
    expect(Number(/VmRSS:\s*(\d+)/.exec(readFileSync(`/proc/${monitorPid}/status`, 'utf8'))?.[1])).toBeLessThanOrEqual(1024);
    ok(['rm', '-f', 'rt-sh']);
    expect(mounted(id)).toBe(false);
    expect(runtimeState(join(cli.runroot, 'runtime-runc'))).toEqual([]);
  }, 60_000);

  it('-dt: runs with its terminal (no stdin), its output in logs and its exit code recorded', async () => {
    const id = ok(['run', '-dt', '--runtime', 'runc', '--network', 'none', image, 'sh', '-c', 'echo in-$(tty); exit 6']);
    await waitFor(() => inspect(id, '{{.State.Status}}') === 'exited', 'the container to exit');
    expect(inspect(id, '{{.State.ExitCode}}')).toBe('6');
    expect(cli.run(['logs', id]).stdout).toMatch(/^in-\/dev\/pts\/\d+\r?\n$/);
    await waitFor(() => !mounted(id), 'the rootfs to be unmounted');
    ok(['rm', id]);
  });

  it('run -it --rm in a terminal: a shell of the terminal\'s size, detach keys, attach again, its exit code comes back and --rm removes it', async () => {
    const first = Session.shellInPty(`exec ${tsrunLine(cli, ['run', '-it', '--rm', '--name', 'rt-it', '--runtime', 'runc', '--network', 'none', image, 'sh'])}`);
    await first.waitFor(/\/ # /);
    first.write('echo fg-$((6*7)); stty size\r');
    await first.waitFor(/fg-42\r*\n33 91/); // the terminal's size from the start
    first.write(CTRL_P_Q);
    expect(await first.exitCode()).toBe(0); // docker/cli's run returns quietly on the escape sequence
    expect(running('rt-it')).toBe('true');

    const again = Session.shellInPty(`${tsrunLine(cli, ['attach', 'rt-it'])}; rc=$?; sleep 0.3; exit $rc`);
    await again.waitFor(/\/ # /);
    again.write('echo back-$((2+3)); exit 5\r');
    expect(await again.exitCode()).toBe(5);
    expect(again.out).toMatch(/back-5/);
    await waitFor(() => cli.run(['inspect', 'rt-it']).code !== 0, 'the --rm container to be removed', 15_000);
    expect(runtimeState(join(cli.runroot, 'runtime-runc'))).toEqual([]);
  }, 60_000);

  it('run -it --rm in a terminal: logged while it runs, the shell\'s exit code is run\'s, and the container is gone when it returns', async () => {
    const s = Session.shellInPty(`${tsrunLine(cli, ['run', '-it', '--rm', '--name', 'rt-quick', '--runtime', 'runc', '--network', 'none', image, 'sh'])}; rc=$?; sleep 0.3; exit $rc`);
    await s.waitFor(/\/ # /);
    s.write('echo logged-$((3*3))\r');
    await s.waitFor(/logged-9/);
    // The monitor has the pty (runc alone would keep no log).
    await waitFor(() => /logged-9/.test(cli.run(['logs', 'rt-quick']).stdout), 'the output in the log');
    s.write('stty size; exit 4\r');
    expect(await s.exitCode()).toBe(4);
    expect(s.out).toMatch(/33 91/);
    expect(cli.run(['inspect', 'rt-quick']).code).not.toBe(0);
    expect(runtimeState(join(cli.runroot, 'runtime-runc'))).toEqual([]);
  }, 60_000);

  it('create -it, then start -ai in a terminal: the terminal\'s size, the exit code back', async () => {
    ok(['create', '-it', '--name', 'rt-st', '--runtime', 'runc', '--network', 'none', image, 'sh']);
    const s = Session.shellInPty(`${tsrunLine(cli, ['start', '-ai', 'rt-st'])}; rc=$?; sleep 0.3; exit $rc`);
    await s.waitFor(/\/ # /);
    s.write('echo st-$((5*5)); stty size; exit 6\r');
    expect(await s.exitCode()).toBe(6);
    expect(s.out).toMatch(/st-25\r*\n33 91/);
    expect(inspect('rt-st', '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 6');
    expect(cli.run(['logs', 'rt-st']).stdout).toMatch(/st-25/);
    ok(['rm', 'rt-st']);
  }, 60_000);

  it('run -t (no -i), attached in a terminal: its output through the monitor (and the log), the terminal\'s size, its code', async () => {
    const s = Session.shellInPty(`${tsrunLine(cli, ['run', '-t', '--name', 'rt-t', '--runtime', 'runc', '--network', 'none', image, 'sh', '-c', 'echo t-$((4*4)); stty size; exit 3'])}; rc=$?; sleep 0.3; exit $rc`);
    expect(await s.exitCode()).toBe(3);
    expect(s.out).toMatch(/t-16\r*\n33 91/);
    expect(cli.run(['logs', 'rt-t']).stdout).toMatch(/^t-16\r?\n33 91\r?\n$/);
    ok(['rm', 'rt-t']);
  }, 60_000);
});

describe('a runtime that is not there', () => {
  it('is named with what is wrong, exit 125, before anything is created', () => {
    const before = ok(['ps', '-a', '-q', '--no-trunc']);
    const missing = cli.run(['run', '--rm', '--runtime', join(host, 'no-such-runtime'), '--network', 'none', image, 'true']);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toContain(`OCI runtime ${join(host, 'no-such-runtime')} does not exist`);
    const unknown = cli.run(['run', '--rm', '--runtime', 'kata-nonesuch', '--network', 'none', image, 'true']);
    expect(unknown.code).toBe(125);
    expect(unknown.stderr).toContain('unknown OCI runtime "kata-nonesuch": use tsrun, runc, crun or an absolute path');
    expect(ok(['ps', '-a', '-q', '--no-trunc'])).toBe(before);
  });
});

describe('a runtime whose create fails', () => {
  // The container's record stays, exited with the error, as Docker keeps a container whose start failed.
  it('exits 125 with the runtime\'s message and leaves no mount, monitor or runtime state', () => {
    const runtime = join(host, 'failing-runtime');
    writeFileSync(
      runtime,
      '#!/bin/sh\ncase " $* " in\n*" create "*) echo "failing-runtime: cannot create this container" >&2; exit 1;;\nesac\necho "container does not exist" >&2\nexit 1\n',
    );
    chmodSync(runtime, 0o755);
    const r = cli.run(['run', '-d', '--name', 'failed-create', '--runtime', runtime, '--network', 'none', image, 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('failing-runtime: cannot create this container');
    expect(inspect('failed-create', '{{.State.Status}}')).toBe('exited');
    expect(inspect('failed-create', '{{.State.Error}}')).toContain('failing-runtime: cannot create this container');
    const id = inspect('failed-create', '{{.Id}}');
    expect(mounted(id)).toBe(false);
    const root = join(cli.runroot, `runtime-${runtime.replace(/[^a-zA-Z0-9]/g, '_')}`);
    expect(runtimeState(root)).toEqual([]);
    ok(['rm', 'failed-create']);
    expect(existsSync(join(cli.root, 'containers', id))).toBe(false);
  });

  it('a runtime that cannot be run at all is reported with its path, and --rm still removes the container', () => {
    const runtime = join(host, 'not-executable-runtime');
    writeFileSync(runtime, 'not a program\n');
    chmodSync(runtime, 0o644);
    const before = ok(['ps', '-a', '-q', '--no-trunc']);
    const r = cli.run(['run', '-d', '--rm', '--runtime', runtime, '--network', 'none', image, 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain(runtime);
    expect(ok(['ps', '-a', '-q', '--no-trunc'])).toBe(before);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(join(cli.root, 'containers'));
  });

});
