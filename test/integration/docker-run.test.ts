// The Docker-like container lifecycle end to end: the built `tsrun` CLI runs
// real containers from the project's busybox image, pulled from the real
// docker-registry on 127.0.0.1. Run as root under the integration lock.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { freePort, type RunningRegistry } from '../support/registry-server.js';
import { mountsUnder, TsrunCli } from '../support/tsrun-cli.js';
import { usePulledBusybox } from '../support/pulled-busybox.js';
import { waitFor } from '../support/wait.js';

let reg: RunningRegistry;
let cli: TsrunCli;
let image: string;
usePulledBusybox((env) => ({ registry: reg, cli, image } = env));

/** The process exists and is not a zombie (a killed container's PID 1 may wait to be reaped by the host's init). */
function isRunningProcess(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

const containerDirs = () => readdirSync(join(cli.root, 'containers')).filter((n) => /^[0-9a-f]{64}$/.test(n));

describe('tsrun run', () => {
  it('prints the command output and exits 0', () => {
    const r = cli.run(['run', '--rm', image, 'echo', 'hello', 'world']);
    expect(r.stdout).toBe('hello world\n');
    expect(r.code).toBe(0);
  });

  it("exits with the container's code, 127 for a missing command and 126 for a non-executable one", () => {
    expect(cli.run(['run', '--rm', image, 'sh', '-c', 'exit 3']).code).toBe(3);
    const missing = cli.run(['run', '--rm', image, 'no-such-command']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/no-such-command/);
    const notExec = cli.run(['run', '--rm', image, '/etc/passwd']);
    expect(notExec.code).toBe(126);
    // inspect keeps Docker's State.ExitCode for a start that failed: 127 not found, 126 cannot invoke.
    for (const [name, cmd, code] of [['nf', 'no-such-command', 127], ['ne', '/etc/passwd', 126]] as const) {
      expect(cli.run(['run', '--name', name, image, cmd]).code).toBe(code);
      expect(cli.run(['inspect', '-f', '{{.State.ExitCode}}', name]).stdout.trim()).toBe(String(code));
      cli.run(['rm', name]);
    }
  });

  it('reports death by signal as 128+n (kill from outside, then wait)', () => {
    cli.run(['run', '-d', '--name', 'victim', image, 'sleep', '600']);
    expect(cli.run(['kill', 'victim']).code).toBe(0);
    expect(cli.run(['wait', 'victim']).stdout).toBe('137\n');
    expect(cli.run(['rm', 'victim']).code).toBe(0);
  });

  it('answers bad input with 125 and a message naming it', () => {
    const badFlag = cli.run(['run', '--no-such-flag', image, 'true']);
    expect(badFlag.code).toBe(125);
    const badName = cli.run(['run', '--rm', 'UPPER/Case', 'true']);
    expect(badName.code).toBe(125);
    expect(badName.stderr).toMatch(/UPPER\/Case/);
    const badMem = cli.run(['run', '--rm', '-m', 'lots', image, 'true']);
    expect(badMem.code).toBe(125);
    expect(badMem.stderr).toMatch(/lots/);
    const noImage = cli.run(['run', '--rm', '--pull', 'never', `${reg.host}/absent`, 'true']);
    expect(noImage.code).toBe(125);
    expect(noImage.stderr).toMatch(/absent/);
  });

  it('isolates the container: PID 1, own hostname, no host processes, masked paths, default capabilities', () => {
    const script = [
      'echo pid=$$',
      'echo host=$(hostname)',
      'echo procs=$(ls /proc | grep -c "^[0-9]")',
      'echo timer=$(wc -c < /proc/timer_list)',
      'grep CapEff /proc/self/status',
      'touch /proc/sys/kernel/x 2>/dev/null && echo procsys=rw || echo procsys=ro',
    ].join('; ');
    const r = cli.run(['run', '--rm', '--hostname', 'boxy', image, 'sh', '-c', script]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('pid=1\n');
    expect(r.stdout).toContain('host=boxy\n');
    expect(Number(/procs=(\d+)/.exec(r.stdout)![1])).toBeLessThan(5);
    expect(r.stdout).toContain('timer=0\n');
    // Docker's default set: no CAP_SYS_ADMIN (bit 21).
    const capEff = BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(r.stdout)![1]}`);
    expect(capEff).toBe(0xa80425fbn);
    expect(r.stdout).toContain('procsys=ro\n');
  });

  it("--network host: the host's interfaces, name, /etc/hosts and resolv.conf, as Docker", async () => {
    // A server on the host's loopback only: reachable from the host's network namespace alone.
    const server = createServer((_req, res) => res.end('from the host\n'));
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    try {
      const port = (server.address() as AddressInfo).port;
      const script = `hostname; wget -q -O - http://127.0.0.1:${port}/; echo ---; cat /etc/hosts; echo ---; cat /etc/resolv.conf`;
      const r = await cli.runAsync(['run', '--rm', '--network', 'host', image, 'sh', '-c', script]);
      expect(r.code, r.stderr).toBe(0);
      const [head, hosts, resolv] = r.stdout.split('---\n');
      expect(head).toBe(`${hostname()}\nfrom the host\n`);
      expect(hosts!.trimEnd()).toBe(readFileSync('/etc/hosts', 'utf8').trimEnd());
      expect(resolv).toBe(readFileSync('/etc/resolv.conf', 'utf8'));
      // The default bridge network gives its own name and no way to the host's loopback.
      const own = await cli.runAsync(['run', '--rm', image, 'sh', '-c', `hostname; wget -q -T 1 -O - http://127.0.0.1:${port}/ || echo unreachable`]);
      expect(own.stdout).toMatch(/^[0-9a-f]{12}\nunreachable\n$/);
    } finally {
      server.close();
    }
  });

  it("applies Docker's default seccomp profile unless unconfined or privileged", () => {
    const confined = cli.run(['run', '--rm', image, 'sh', '-c', 'grep "^Seccomp:" /proc/self/status; unshare -U true 2>&1; ls / >/dev/null && echo ls-ok']);
    expect(confined.stdout).toMatch(/^Seccomp:\s+2$/m);
    expect(confined.stdout).toMatch(/unshare.*Operation not permitted/);
    expect(confined.stdout).toContain('ls-ok');
    for (const flag of [['--security-opt', 'seccomp=unconfined'], ['--privileged']]) {
      expect(cli.run(['run', '--rm', ...flag, image, 'grep', '^Seccomp:', '/proc/self/status']).stdout).toMatch(/^Seccomp:\s+0$/m);
    }
  });

  it('applies -e, -w, -u and --entrypoint like Docker', () => {
    const r = cli.run(['run', '--rm', '-e', 'GREETING=hi there', '-w', '/tmp/work', '-u', 'tsuser', '--entrypoint', 'sh', image, '-c', 'echo "$GREETING|$(pwd)|$(id -u)|$HOME"']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('hi there|/tmp/work|1000|/home/tsuser\n');
    const unknown = cli.run(['run', '--rm', '-u', 'nobody-here', image, 'true']);
    expect(unknown.code).toBe(125);
    expect(unknown.stderr).toMatch(/unable to find user nobody-here/);
  });

  it('writes land only in the container layer; --read-only refuses them', () => {
    const id = cli.run(['create', image, 'sh', '-c', 'echo data > /written']).stdout.trim();
    expect(cli.run(['start', '-a', id]).code).toBe(0);
    expect(readFileSync(join(cli.root, 'containers', id, 'upper', 'written'), 'utf8')).toBe('data\n');
    for (const layer of readdirSync(join(cli.root, 'layers'))) expect(existsSync(join(cli.root, 'layers', layer, 'diff', 'written'))).toBe(false);
    expect(cli.run(['rm', id]).code).toBe(0);
    const ro = cli.run(['run', '--rm', '--read-only', image, 'sh', '-c', 'touch /x']);
    expect(ro.code).not.toBe(0);
    expect(ro.stderr).toMatch(/Read-only file system/);
  });

  it('--rm leaves no mount, no directory and no runtime state', () => {
    const before = containerDirs().length;
    expect(cli.run(['run', '--rm', image, 'true']).code).toBe(0);
    expect(containerDirs().length).toBe(before);
    expect(mountsUnder(join(cli.root, 'containers'))).toEqual([]);
  });

  it('refuses a name already in use', () => {
    expect(cli.run(['create', '--name', 'taken', image, 'true']).code).toBe(0);
    const again = cli.run(['create', '--name', 'taken', image, 'true']);
    expect(again.code).toBe(125);
    expect(again.stderr).toMatch(/"\/taken" is already in use/);
    expect(cli.run(['rm', 'taken']).code).toBe(0);
  });
});

describe('terminals and init', () => {
  it('-it gives the container a real pty with the terminal size, and passes the exit code', () => {
    // `script` gives tsrun a terminal; keystrokes arrive after the shell prompt.
    const cmd = `stty cols 91 rows 33; ${process.execPath} ${cli.args(['run', '-it', '--rm', image, 'sh']).join(' ')}`;
    const r = spawnSync('sh', ['-c', `(sleep 1; printf 'echo in-tty $(tty); stty size\\r'; sleep 0.5; printf 'exit 7\\r') | script -qfec "${cmd}" /dev/null`], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stdout).toMatch(/in-tty \/dev\/pts\/0/);
    expect(r.stdout).toMatch(/33 91/);
    expect(r.status).toBe(7);
  });

  it('-it without a terminal is refused', () => {
    const r = cli.run(['run', '-it', '--rm', image, 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/not a TTY/);
  });

  it('--init runs an init as PID 1 that reaps zombies and forwards signals', () => {
    const r = cli.run(['run', '--rm', '--init', image, 'sh', '-c', 'echo pid=$$; ps -o pid,comm | grep -c docker-init']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('pid=1\n');
    expect(r.stdout.trim().split('\n').pop()).toBe('1');
  });
});

describe('detached containers', () => {
  it('run -d, ps, logs -f until exit, exec, stop, inspect, rm', async () => {
    const id = cli.run(['run', '-d', '--name', 'ticker', image, 'sh', '-c', 'trap "echo bye; exit 0" TERM; i=0; while [ $i -lt 600 ]; do echo tick $i; i=$((i+1)); sleep 0.1; done']).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const ps = cli.run(['ps']);
    expect(ps.stdout).toMatch(/CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES/);
    expect(ps.stdout).toMatch(new RegExp(`${id.slice(0, 12)}.*Up .*ticker`));
    await sleep(400);
    expect(cli.run(['logs', 'ticker']).stdout).toMatch(/^tick 0\ntick 1\n/);

    const exec = cli.run(['exec', 'ticker', 'sh', '-c', 'echo in $(hostname); exit 4']);
    expect(exec.stdout).toBe(`in ${id.slice(0, 12)}\n`);
    expect(exec.code).toBe(4);

    // logs -f follows and ends by itself once the container stops.
    const follow = cli.runAsync(['logs', '-f', 'ticker'], { timeoutMs: 30_000 });
    await sleep(300);
    const stop = cli.run(['stop', 'ticker']);
    expect(stop.code).toBe(0);
    const followed = await follow;
    expect(followed.code).toBe(0);
    expect(followed.stdout).toMatch(/tick 0\n[\s\S]*bye\n$/);

    const inspect = JSON.parse(cli.run(['inspect', 'ticker']).stdout)[0];
    expect(inspect.Id).toBe(id);
    expect(inspect.State.Status).toBe('exited');
    expect(inspect.State.ExitCode).toBe(0);
    expect(inspect.State.OOMKilled).toBe(false);
    expect(cli.run(['ps', '-a']).stdout).toMatch(/Exited \(0\)/);
    expect(cli.run(['rm', 'ticker']).code).toBe(0);
    expect(cli.run(['inspect', 'ticker']).code).toBe(125);
  });

  it('stop explains a PID 1 that ignores SIGTERM, then kills it', () => {
    cli.run(['run', '-d', '--name', 'stubborn', image, 'sleep', '600']);
    const stop = cli.run(['stop', '-t', '1', 'stubborn']);
    expect(stop.code).toBe(0);
    expect(stop.stderr).toMatch(/ignored SIGTERM/);
    expect(cli.run(['inspect', '-f', '{{.State.ExitCode}}', 'stubborn']).stdout.trim()).toBe('137');
    expect(cli.run(['rm', 'stubborn']).code).toBe(0);
  });

  it('accepts unique ID prefixes and refuses ambiguous or unknown ones', () => {
    const id = cli.run(['create', image, 'true']).stdout.trim();
    expect(cli.run(['inspect', '-f', '{{.Id}}', id.slice(0, 6)]).stdout.trim()).toBe(id);
    const unknown = cli.run(['rm', 'nope-not-here']);
    expect(unknown.code).toBe(125);
    expect(unknown.stderr).toMatch(/no such container: nope-not-here/);
    expect(cli.run(['rm', id.slice(0, 8)]).code).toBe(0);
  });
});

describe('without a daemon: the monitor calls back when a detached container exits', () => {
  it('-d --rm removes the container once it exits', async () => {
    const id = cli.run(['run', '-d', '--rm', image, 'sh', '-c', 'sleep 0.2']).stdout.trim();
    for (let i = 0; i < 50 && containerDirs().includes(id); i++) await sleep(100);
    expect(containerDirs()).not.toContain(id);
    expect(existsSync(join(cli.runroot, 'runtime', id))).toBe(false);
    expect(mountsUnder(join(cli.root, 'containers', id))).toEqual([]);
  });

  it('--restart on-failure:N restarts N times with backoff, then stays exited', async () => {
    cli.run(['run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', image, 'sh', '-c', 'echo attempt; exit 1']);
    for (let i = 0; i < 60 && cli.run(['inspect', '-f', '{{.RestartCount}}', 'flaky']).stdout.trim() !== '2'; i++) await sleep(100);
    await sleep(500);
    const [count, status, code] = cli.run(['inspect', '-f', '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}', 'flaky']).stdout.trim().split(' ');
    expect([count, status, code]).toEqual(['2', 'exited', '1']);
    expect(cli.run(['logs', 'flaky']).stdout).toBe('attempt\nattempt\nattempt\n');
    expect(cli.run(['rm', 'flaky']).code).toBe(0);
  });

  it('--restart always restarts a container that exits 0, but not after stop', async () => {
    cli.run(['run', '-d', '--name', 'keeper', '--restart', 'always', image, 'sh', '-c', 'sleep 0.2']);
    for (let i = 0; i < 60 && Number(cli.run(['inspect', '-f', '{{.RestartCount}}', 'keeper']).stdout) < 2; i++) await sleep(100);
    expect(Number(cli.run(['inspect', '-f', '{{.RestartCount}}', 'keeper']).stdout)).toBeGreaterThanOrEqual(2);
    expect(cli.run(['stop', 'keeper']).code).toBe(0);
    const after = cli.run(['inspect', '-f', '{{.RestartCount}}', 'keeper']).stdout;
    await sleep(1500);
    expect(cli.run(['inspect', '-f', '{{.RestartCount}} {{.State.Status}}', 'keeper']).stdout.trim()).toBe(`${after.trim()} exited`);
    expect(cli.run(['rm', 'keeper']).code).toBe(0);
  });

  it('--restart and --rm together are refused', () => {
    const r = cli.run(['run', '--rm', '--restart', 'always', image, 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/--restart and --rm/);
  });
});

describe('no lock file outlives its container', () => {
  /** The runroot's lock files that name the container (its id, or the 12-character short id). */
  const locksOf = (id: string): string[] => {
    try {
      return readdirSync(join(cli.runroot, 'locks')).filter((n) => n.includes(id));
    } catch {
      return [];
    }
  };

  it('create + rm', () => {
    const id = cli.ok(['create', image, 'true']).trim();
    cli.ok(['cp', `${id}:/etc/hostname`, join(cli.root, '..', 'hostname-copy')]); // takes the rootfs use lock too
    expect(locksOf(id).length).toBeGreaterThan(0); // what the checks below would see
    cli.ok(['rm', id]);
    expect(locksOf(id)).toEqual([]);
  });

  it('run -d + rm -f of the running container', () => {
    const id = cli.ok(['run', '-d', image, 'sleep', '300']).trim();
    expect(locksOf(id)).toContain(`${id}.lock`);
    cli.ok(['rm', '-f', id]);
    expect(locksOf(id)).toEqual([]);
  });

  it('run --rm in the foreground', () => {
    const shortId = cli.ok(['run', '--rm', image, 'hostname']).trim(); // the short id, as Docker's
    expect(shortId).toMatch(/^[0-9a-f]{12}$/);
    expect(containerDirs().some((d) => d.startsWith(shortId))).toBe(false);
    expect(locksOf(shortId)).toEqual([]);
  });

  it('run -d --rm, removed by its monitor once it exits', async () => {
    const id = cli.ok(['run', '-d', '--rm', image, 'sh', '-c', 'sleep 0.3']).trim();
    expect(locksOf(id)).toContain(`${id}.lock`);
    await waitFor(() => !containerDirs().includes(id), 'the container removed after its exit');
    // The exit command lets go of the container's lock just after the removal.
    await waitFor(() => locksOf(id).length === 0, `no lock file of ${id} left (${locksOf(id).join(', ')})`, 5_000);
  });

  it('container prune, which also deletes those that removals by older versions left', () => {
    const id = cli.ok(['create', image, 'true']).trim();
    cli.ok(['start', '-a', id]);
    const running = cli.ok(['run', '-d', image, 'sleep', '300']).trim();
    const stale = 'f'.repeat(64); // no such container
    for (const name of [`${stale}.lock`, `${stale}.rootfs.lock`]) writeFileSync(join(cli.runroot, 'locks', name), '');
    expect(locksOf(id).length).toBeGreaterThan(0);
    expect(cli.ok(['container', 'prune', '-f'])).toContain(id);
    expect(locksOf(id)).toEqual([]);
    expect(locksOf(stale)).toEqual([]);
    expect(locksOf(running)).toContain(`${running}.lock`); // a container that stays keeps its lock file
    cli.ok(['rm', '-f', running]);
    expect(locksOf(running)).toEqual([]);
  });
});

describe('crash recovery', () => {
  it('kill -9 of the monitor: ps tells the truth and rm -f cleans everything', async () => {
    const id = cli.run(['run', '-d', image, 'sleep', '600']).stdout.trim();
    const runtimeDir = join(cli.runroot, 'runtime', id);
    const monitorPid = Number(readFileSync(join(runtimeDir, 'state.json'), 'utf8').match(/"monitorPid":\s*(\d+)/)?.[1]);
    expect(monitorPid).toBeGreaterThan(0);
    const containerPid = Number(cli.run(['inspect', '-f', '{{.State.Pid}}', id]).stdout);
    expect(containerPid).toBeGreaterThan(0);
    process.kill(monitorPid, 'SIGKILL');
    await sleep(200);
    // The container dies with its monitor (nothing else would reap it or record its exit),
    // so "Exited" is the truth, not a label on a process that still runs.
    for (let i = 0; i < 20 && isRunningProcess(containerPid); i++) await sleep(100);
    expect(isRunningProcess(containerPid), `container process ${containerPid} outlived its killed monitor`).toBe(false);
    const ps = cli.run(['ps', '-a']).stdout;
    expect(ps).not.toMatch(new RegExp(`${id.slice(0, 12)}.*Up `));
    expect(ps).toMatch(new RegExp(`${id.slice(0, 12)}.*Exited \\(`));
    expect(cli.run(['rm', '-f', id]).code).toBe(0);
    expect(existsSync(join(cli.root, 'containers', id))).toBe(false);
    expect(existsSync(runtimeDir)).toBe(false);
    expect(mountsUnder(join(cli.root, 'containers', id))).toEqual([]);
  });

  it('kill -9 of the monitor of a container whose PID 1 changed its user (gosu, su-exec): ps says Up while it lives, rm -f ends it', async () => {
    // Changing its user clears PID 1's parent-death signal, so this one outlives its monitor.
    const id = cli.run(['run', '-d', image, 'su', '-s', '/bin/sh', 'nobody', '-c', 'exec sleep 600']).stdout.trim();
    const containerPid = Number(cli.run(['inspect', '-f', '{{.State.Pid}}', id]).stdout);
    const monitorPid = Number(readFileSync(join(cli.runroot, 'runtime', id, 'state.json'), 'utf8').match(/"monitorPid":\s*(\d+)/)?.[1]);
    expect(containerPid).toBeGreaterThan(0);
    process.kill(monitorPid, 'SIGKILL');
    await sleep(300);
    expect(isRunningProcess(containerPid)).toBe(true);
    expect(cli.run(['ps']).stdout).toMatch(new RegExp(`${id.slice(0, 12)}.*Up `));
    expect(cli.run(['rm', '-f', id]).code).toBe(0);
    for (let i = 0; i < 20 && isRunningProcess(containerPid); i++) await sleep(100);
    expect(isRunningProcess(containerPid)).toBe(false);
    expect(cli.run(['ps', '-a']).stdout).not.toContain(id.slice(0, 12));
  });

  it('kill -9 of a foreground tsrun leaves a running container that ps shows and rm -f removes', async () => {
    const child = spawn(process.execPath, cli.args(['run', '--name', 'orphan', image, 'sleep', '600']), { stdio: 'ignore' });
    for (let i = 0; i < 100 && !cli.run(['ps']).stdout.includes('orphan'); i++) await sleep(100);
    child.kill('SIGKILL');
    await sleep(200);
    expect(cli.run(['ps']).stdout).toMatch(/Up .*orphan/);
    expect(cli.run(['rm', '-f', 'orphan']).code).toBe(0);
    expect(cli.run(['ps', '-a']).stdout).not.toMatch(/orphan/);
  });

  it('kill -9 of a foreground tsrun run --rm: the container still goes when it exits, as Docker removes it', async () => {
    const child = spawn(process.execPath, cli.args(['run', '--rm', '--name', 'orphan-rm', image, 'sleep', '1']), { stdio: 'ignore' });
    for (let i = 0; i < 100 && !cli.run(['ps']).stdout.includes('orphan-rm'); i++) await sleep(50);
    const id = cli.run(['inspect', '-f', '{{.Id}}', 'orphan-rm']).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    child.kill('SIGKILL');
    await sleep(200);
    expect(cli.run(['ps']).stdout).toMatch(/Up .*orphan-rm/);
    // Its monitor finds its caller gone and runs the exit command: the removal --rm asked for.
    for (let i = 0; i < 100 && cli.run(['ps', '-a']).stdout.includes('orphan-rm'); i++) await sleep(100);
    expect(cli.run(['ps', '-a']).stdout).not.toMatch(/orphan-rm/);
    expect(existsSync(join(cli.root, 'containers', id))).toBe(false);
    expect(existsSync(join(cli.runroot, 'runtime', id))).toBe(false);
    expect(mountsUnder(join(cli.root, 'containers', id))).toEqual([]);
  });
});

describe('after a reboot', () => {
  it('start brings back a bridge container, at its address and with its published port', async () => {
    const port = await freePort();
    const id = cli.run(['run', '-d', '--name', 'rebooted', '-p', `${port}:80`, image, 'httpd', '-f', '-p', '80', '-h', '/etc']).stdout.trim();
    const ipBefore = cli.run(['exec', 'rebooted', 'hostname', '-i']).stdout.trim();
    // A reboot: every process gone, the runroot (a tmpfs) empty, its mounts with it.
    const state = JSON.parse(readFileSync(join(cli.runroot, 'runtime', id, 'state.json'), 'utf8'));
    for (const pid of [state.pid, state.monitorPid]) process.kill(pid, 'SIGKILL');
    await sleep(200);
    for (const m of mountsUnder(cli.runroot).reverse()) spawnSync('umount', ['-l', m]);
    rmSync(cli.runroot, { recursive: true, force: true });

    expect(cli.run(['start', 'rebooted']).code).toBe(0);
    expect(cli.run(['exec', 'rebooted', 'hostname', '-i']).stdout.trim()).toBe(ipBefore);
    const res = await fetch(`http://127.0.0.1:${port}/hostname`);
    expect(res.status).toBe(200);
    expect((await res.text()).trim()).toBe(id.slice(0, 12));
    expect(cli.run(['rm', '-f', 'rebooted']).code).toBe(0);
  });
});

describe('system boot', () => {
  it('starts the containers whose restart policy asks for it, and only those', async () => {
    cli.run(['run', '-d', '--name', 'keep', '--restart', 'always', '--network', 'none', image, 'sleep', '600']);
    cli.run(['run', '-d', '--name', 'plain', '--network', 'none', image, 'sleep', '600']);
    cli.run(['run', '-d', '--name', 'held', '--restart', 'unless-stopped', '--network', 'none', image, 'sleep', '600']);
    expect(cli.run(['stop', '-t', '0', 'held']).code).toBe(0);
    // A reboot: processes gone, runroot empty.
    for (const name of ['keep', 'plain']) {
      const id = cli.run(['inspect', '-f', '{{.Id}}', name]).stdout.trim();
      const state = JSON.parse(readFileSync(join(cli.runroot, 'runtime', id, 'state.json'), 'utf8'));
      for (const pid of [state.pid, state.monitorPid]) process.kill(pid, 'SIGKILL');
    }
    await sleep(200);
    for (const m of mountsUnder(cli.runroot).reverse()) spawnSync('umount', ['-l', m]);
    rmSync(cli.runroot, { recursive: true, force: true });

    const boot = cli.run(['system', 'boot']);
    expect(boot.code, boot.stderr).toBe(0);
    expect(boot.stdout).toBe('keep\n');
    const status = (n: string) => cli.run(['inspect', '-f', '{{.State.Status}}', n]).stdout.trim();
    expect([status('keep'), status('plain'), status('held')]).toEqual(['running', 'exited', 'exited']);
    expect(cli.run(['rm', '-f', 'keep', 'plain', 'held']).code).toBe(0);
  });
});

describe('concurrency', () => {
  it('50 concurrent runs all succeed', async () => {
    const runs = await Promise.all(
      Array.from({ length: 50 }, (_, i) => cli.runAsync(['run', '--rm', '--network', 'none', image, 'echo', `n${i}`], { timeoutMs: 120_000 })),
    );
    const failures = runs.filter((r, i) => r.code !== 0 || r.stdout !== `n${i}\n`);
    expect(failures.map((f) => f.stderr)).toEqual([]);
  }, 180_000);
});

describe('differential: runc stands in for our launcher', () => {
  it('gives the same output and exit codes', () => {
    for (const args of [['echo', 'same'], ['sh', '-c', 'echo $(id -u):$(hostname); exit 5']]) {
      const ours = cli.run(['run', '--rm', '--hostname', 'h', image, ...args]);
      const theirs = cli.run(['run', '--rm', '--runtime', 'runc', '--hostname', 'h', image, ...args]);
      expect(theirs.stdout).toBe(ours.stdout);
      expect(theirs.code).toBe(ours.code);
    }
  });
});
