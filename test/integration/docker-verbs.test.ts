// Docker verbs beside the core lifecycle: restart (with --rm, restart policies and a
// one-off stop signal), `container VERB` for every container verb, ps/images
// --format templates, and history. Real containers from the project's busybox
// image, pulled from the real docker-registry on 127.0.0.1. Run as root under
// the integration lock.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { TsrunCli } from '../support/tsrun-cli.js';
import { usePulledBusybox } from '../support/pulled-busybox.js';
import { waitFor } from '../support/wait.js';

let cli: TsrunCli;
let image: string;
usePulledBusybox((env) => ({ cli, image } = env));

const ok = (args: string[]) => cli.ok(args);

const inspect = (name: string) => (JSON.parse(ok(['inspect', name])) as Record<string, any>[])[0]!;


describe('tsrun restart', () => {
  it('stops and starts a running container: a new process, the same container, no policy restart counted', () => {
    // The shell traps TERM so the stop is clean; each start appends a line to its log.
    ok(['run', '-d', '--name', 'rs1', image, 'sh', '-c', 'trap "exit 0" TERM; echo start; while :; do sleep 0.1; done']);
    const before = inspect('rs1').State;
    expect(ok(['restart', '-t', '5', 'rs1'])).toBe('rs1\n');
    const after = inspect('rs1').State;
    expect(after.Running).toBe(true);
    expect(after.Pid).not.toBe(before.Pid);
    expect(inspect('rs1').RestartCount).toBe(0);
    expect(ok(['logs', 'rs1']).trim().split('\n')).toEqual(['start', 'start']);
    ok(['rm', '-f', 'rs1']);
  });

  it('keeps an --rm container: the exit in between is not its end', async () => {
    const id = ok(['run', '-d', '--rm', '--name', 'rs2', image, 'sleep', '300']).trim();
    // sleep as PID 1 ignores SIGTERM: the restart kills it after the timeout.
    const r = cli.run(['restart', '-t', '0', 'rs2']);
    expect(r.code, r.stderr).toBe(0);
    await sleep(500); // the monitor's exit hook of the first run has had its chance
    expect(inspect('rs2').State.Running).toBe(true);
    expect(inspect('rs2').Id).toBe(id);
    // And its next exit removes it, as --rm says.
    ok(['kill', 'rs2']);
    await waitFor(() => cli.run(['inspect', 'rs2']).code !== 0, 'rs2 removed after its exit');
  });

  it('restarting a foreground --rm container from elsewhere keeps it: the attached tsrun ends, the container runs on', async () => {
    const attached = cli.runAsync(['run', '--rm', '--name', 'rs6', image, 'sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done']);
    await waitFor(() => cli.run(['inspect', 'rs6']).code === 0 && inspect('rs6').State.Running === true, 'rs6 running');
    const r = cli.run(['restart', '-t', '5', 'rs6']);
    expect(r.code, r.stderr).toBe(0);
    expect((await attached).code).toBe(0); // the first run's exit code, as docker run's session ends
    expect(inspect('rs6').State.Running).toBe(true);
    ok(['rm', '-f', 'rs6']);
  });

  it('starts an exited container, and a one-off -s signal does not become its stop signal', () => {
    ok(['run', '--name', 'rs3', image, 'true']);
    expect(inspect('rs3').State.Status).toBe('exited');
    ok(['start', 'rs3']); // exits again at once
    ok(['run', '-d', '--name', 'rs4', image, 'sh', '-c', 'trap "exit 0" USR1; while :; do sleep 0.1; done']);
    expect(ok(['restart', '-s', 'USR1', '-t', '5', 'rs4'])).toBe('rs4\n');
    expect(inspect('rs4').State.Running).toBe(true);
    expect(inspect('rs4').Config.StopSignal).toBe('SIGTERM');
    ok(['rm', '-f', 'rs3', 'rs4']);
  });

  it('a container with --restart always is restarted once, by restart, not twice', async () => {
    ok(['run', '-d', '--restart', 'always', '--name', 'rs5', image, 'sh', '-c', 'trap "exit 0" TERM; echo up; while :; do sleep 0.1; done']);
    ok(['restart', '-t', '5', 'rs5']);
    await sleep(1500); // a policy restart after the stop would add a third "up"
    expect(ok(['logs', 'rs5']).trim().split('\n')).toEqual(['up', 'up']);
    expect(inspect('rs5').State.Running).toBe(true);
    ok(['rm', '-f', 'rs5']);
  });

  it('refuses a bad -t or -s with 125 before touching the container', () => {
    ok(['run', '-d', '--name', 'rs7', image, 'sleep', '300']);
    const pid = inspect('rs7').State.Pid;
    for (const args of [['restart', '-t', 'abc', 'rs7'], ['restart', '-t', '-5', 'rs7'], ['restart', '-s', 'BOGUS', 'rs7'], ['stop', '-t', '1.5', 'rs7']]) {
      const r = cli.run(args);
      expect({ args, code: r.code }).toEqual({ args, code: 125 });
      expect(r.stderr).toMatch(/invalid (--time|signal)/);
    }
    expect(inspect('rs7').State.Pid).toBe(pid);
    ok(['rm', '-f', 'rs7']);
  });

  it('names what it cannot find', () => {
    const r = cli.run(['restart', 'no-such-container']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no such container: no-such-container/i);
  });
});

describe('verbs given several names', () => {
  const ghosts = 'tsrun: no such container: ghost-a\ntsrun: no such container: ghost-b\n';

  it('report each unknown name in tsrun\'s form as it comes, still act on the others, and exit 125', () => {
    // Traps TERM, so that stop says nothing of its own on stderr.
    ok(['run', '-d', '--name', 'mn1', image, 'sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done']);
    const each = (verb: string[], stdout: string) => {
      const r = cli.run([...verb, 'ghost-a', 'mn1', 'ghost-b']);
      expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }, verb.join(' ')).toEqual({ code: 125, stdout, stderr: ghosts });
    };
    each(['pause'], 'mn1\n');
    expect(inspect('mn1').State.Paused).toBe(true);
    each(['unpause'], 'mn1\n');
    expect(inspect('mn1').State.Paused).toBe(false);
    each(['update', '--cpu-shares', '512'], 'mn1\n');
    each(['kill'], 'mn1\n');
    each(['wait'], '137\n');
    each(['start'], 'mn1\n');
    expect(inspect('mn1').State.Running).toBe(true);
    each(['stop', '-t', '5'], 'mn1\n');
    each(['rm'], 'mn1\n');
    expect(cli.run(['ps', '-aq', '-f', 'name=mn1']).stdout).toBe('');
  });

  it('a single unknown name: the same line and 125', () => {
    for (const verb of ['stop', 'kill', 'rm', 'pause', 'unpause', 'wait', 'start', 'update']) {
      const r = cli.run([verb, 'ghost-a']);
      expect({ code: r.code, stderr: r.stderr }, verb).toEqual({ code: 125, stderr: 'tsrun: no such container: ghost-a\n' });
    }
  });

  it('network and pod verbs too: each unknown name in tsrun\'s form, 125', () => {
    for (const [verb, kind] of [[['network', 'rm'], 'network'], [['network', 'inspect'], 'network'], [['pod', 'rm'], 'pod'], [['pod', 'stop'], 'pod']] as const) {
      const r = cli.run([...verb, 'ghost-a', 'ghost-b']);
      expect({ code: r.code, stderr: r.stderr }, verb.join(' ')).toEqual({ code: 125, stderr: `tsrun: no such ${kind}: ghost-a\ntsrun: no such ${kind}: ghost-b\n` });
    }
  });

  it('inspect: [] on stdout for scripts, the error in tsrun\'s form, exit 125', () => {
    const any = cli.run(['inspect', 'ghost-a']);
    expect({ code: any.code, stdout: any.stdout, stderr: any.stderr }).toEqual({ code: 125, stdout: '[]\n', stderr: 'tsrun: no such object: ghost-a\n' });
    const container = cli.run(['container', 'inspect', 'ghost-a', 'ghost-b']);
    expect({ code: container.code, stdout: container.stdout, stderr: container.stderr }).toEqual({ code: 125, stdout: '[]\n', stderr: ghosts });
  });
});

describe('tsrun container VERB', () => {
  it('runs the container verbs under `container` as Docker does', () => {
    expect(ok(['container', 'run', '--rm', image, 'echo', '-n', 'hi'])).toBe('hi');
    ok(['container', 'create', '--name', 'cv1', image, 'sh', '-c', 'echo from-cv1; sleep 300']);
    ok(['container', 'start', 'cv1']);
    expect(ok(['container', 'exec', 'cv1', 'echo', 'in-exec'])).toBe('in-exec\n');
    expect(ok(['container', 'ls', '--format', '{{.Names}}'])).toContain('cv1');
    ok(['container', 'stop', '-t', '0', 'cv1']);
    expect(ok(['container', 'logs', 'cv1'])).toBe('from-cv1\n');
    expect(ok(['container', 'wait', 'cv1'])).toBe('137\n');
    ok(['container', 'rm', 'cv1']);
  });
});

describe('--format templates', () => {
  it('ps prints a template per container, and "table" adds Docker\'s headers', () => {
    ok(['run', '-d', '--name', 'fmt1', '--label', 'team=a', image, 'sleep', '300']);
    expect(ok(['ps', '--format', '{{.Names}}|{{.State}}|{{.Labels}}'])).toContain('fmt1|running|team=a');
    const table = ok(['ps', '--format', 'table {{.Names}}\\t{{.Status}}']).split('\n');
    expect(table[0]).toMatch(/^NAMES\s+STATUS$/);
    expect(table.some((l) => /^fmt1\s+Up /.test(l))).toBe(true);
    const json = ok(['ps', '--format', 'json']).trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    expect(json.find((j) => j.Names === 'fmt1')).toMatchObject({ State: 'running', Labels: 'team=a' });
    ok(['rm', '-f', 'fmt1']);
  });

  it("takes Go's template language and Docker's ps fields, methods and functions", () => {
    ok(['volume', 'create', 'fmtvol']);
    ok(['run', '-d', '--name', 'fmt3', '--label', 'com.example=yes', '-v', 'fmtvol:/data', image, 'sleep', '300']);
    const line = ok(['ps', '--format', '{{.Names}}|{{.Label "com.example"}}|{{.Mounts}}|{{.LocalVolumes}}|{{.Networks}}|{{.Platform}}|{{.Size}}'])
      .split('\n')
      .find((l) => l.startsWith('fmt3|'));
    expect(line).toMatch(/^fmt3\|yes\|fmtvol\|1\|bridge\|linux\/\w+\|\d+(\.\d+)?k?B \(virtual \d+(\.\d+)?MB\)$/);
    const table = ok(['ps', '--format', 'table {{.Names}}\\t{{.Label "com.example"}}\\t{{upper .State}}']).split('\n');
    expect(table[0]).toMatch(/^NAMES\s+example\s+STATE$/);
    expect(table.some((l) => /^fmt3\s+yes\s+RUNNING$/.test(l))).toBe(true);
    expect(ok(['inspect', '--format', '{{range .Mounts}}{{.Name}}:{{.Destination}}{{end}} {{join .Args " "}} {{json .Config.Labels}}', 'fmt3'])).toBe(
      'fmtvol:/data 300 {"com.example":"yes"}\n',
    );
    expect(ok(['inspect', '--format', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}', 'fmt3'])).toBe('bridge\n');
    expect(ok(['volume', 'ls', '--format', '{{if eq .Name "fmtvol"}}{{.Name}} {{.Driver}} [{{.Label "x"}}]{{end}}']).trim()).toBe('fmtvol local []');
    expect(ok(['network', 'ls', '--format', '{{.Name}}|{{.Driver}}']).split('\n')).toContain('bridge|bridge');
    expect(ok(['network', 'ls', '--format', 'table {{.Name}}\\t{{.Scope}}']).split('\n')[0]).toMatch(/^NAME\s+SCOPE$/);
    const stats = ok(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}} {{.CPUPerc}}', 'fmt3']);
    expect(stats).toMatch(/^fmt3 \d+ \d+\.\d\d%\n$/);
    const bad = cli.run(['stats', '--no-stream', '--format', '{{.Nope}}', 'fmt3']);
    expect([bad.code, bad.stdout]).toEqual([125, '']);
    expect(bad.stderr).toContain("can't evaluate field Nope in type *container.statsContext");
    ok(['rm', '-f', 'fmt3']);
    ok(['volume', 'rm', 'fmtvol']);
  });

  it('images takes the same templates', () => {
    expect(ok(['images', '--format', '{{.Repository}}:{{.Tag}}'])).toContain(`${image}:latest`);
    expect(ok(['images', '--format', 'table {{.Repository}}\\t{{.Tag}}']).split('\n')[0]).toMatch(/^REPOSITORY\s+TAG$/);
  });

  it('an unknown field is an error naming it (125, no output), as Docker\'s template errors', () => {
    ok(['run', '-d', '--name', 'fmt2', image, 'sleep', '300']);
    const ps = cli.run(['ps', '--format', '{{.Names}} {{.Nope}}']);
    expect(ps.code).toBe(125);
    expect(ps.stdout).toBe('');
    expect(ps.stderr).toContain('template parsing error: template: :1:13: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.ContainerContext');
    const images = cli.run(['images', '--format', 'table {{.Repository}}\\t{{.Nope}}']);
    expect([images.code, images.stdout]).toEqual([125, '']);
    expect(images.stderr).toContain("can't evaluate field Nope in type *formatter.imageContext");
    const ins = cli.run(['inspect', '--format', '{{.State.Status}} {{.Nope}}', 'fmt2']);
    expect([ins.code, ins.stdout]).toEqual([125, '']);
    expect(ins.stderr).toContain('executing "" at <.Nope>: map has no entry for key "Nope"');
    // Docker's optional fields: an absent health check prints <nil>, walking into it fails.
    expect(ok(['inspect', '--format', '{{.State.Health}}', 'fmt2'])).toBe('<nil>\n');
    expect(cli.run(['inspect', '--format', '{{.State.Health.Status}}', 'fmt2']).stderr).toContain('map has no entry for key "Health"');
    ok(['rm', '-f', 'fmt2']);
    // With no containers to print, the field names are still checked.
    expect(cli.run(['ps', '--format', '{{.Nope}}']).code).toBe(125);
    expect(cli.run(['volume', 'ls', '--format', '{{.Nope}}']).stderr).toContain('*formatter.volumeContext');
  });

  it('version and info take templates as in scripts written for Docker, and info counts paused containers apart', () => {
    const v = ok(['version', '--format', '{{.Client.Version}} {{.Server.Version}}']).trim().split(' ');
    expect(v[0]).toMatch(/^\d+\.\d+\.\d+/);
    expect(v[1]).toBe(v[0]);
    ok(['run', '-d', '--name', 'inf1', image, 'sleep', '300']);
    ok(['run', '-d', '--name', 'inf2', image, 'sleep', '300']);
    ok(['pause', 'inf2']);
    const counts = '{{.Containers}} {{.ContainersRunning}} {{.ContainersPaused}} {{.ContainersStopped}}';
    expect(ok(['info', '--format', counts])).toBe('2 1 1 0\n');
    expect(ok(['info', '--format', '{{.Driver}} {{.OSType}} {{if .NCPU}}cpus{{end}}'])).toBe('overlay linux cpus\n');
    expect(JSON.parse(ok(['info', '--format', 'json'])).DockerRootDir).toBe(JSON.parse(ok(['info', '--format', 'json'])).RootDir);
    const bad = cli.run(['info', '--format', '{{.Nope}}']);
    expect([bad.code, bad.stdout]).toEqual([125, '']);
    expect(bad.stderr).toContain('Nope');
    ok(['rm', '-f', 'inf1', 'inf2']);
  });
});

describe('system prune', () => {
  it("removes a stopped container's launcher state and cgroup when its record is gone, and leaves a live one alone", async () => {
    const gone = ok(['run', '-d', '--name', 'orphan1', image, 'true']).trim();
    const live = ok(['run', '-d', '--name', 'orphan2', image, 'sleep', '300']).trim();
    await waitFor(() => inspect('orphan1').State.Status === 'exited', 'orphan1 to exit');
    // What a crash between the record's removal and the state's would leave (rm removes the state
    // first): the records moved out of the store, their mounted rootfs with them.
    const aside = join(cli.root, '..', 'records-aside');
    mkdirSync(aside, { recursive: true });
    for (const id of [gone, live]) renameSync(join(cli.root, 'containers', id), join(aside, id));
    rmSync(join(cli.root, 'containers', 'names', 'orphan1'), { force: true });
    rmSync(join(cli.root, 'containers', 'names', 'orphan2'), { force: true });
    // Its cgroup, wherever this host's layout puts tsrun's (v1 controllers, hybrid, pure v2).
    const cgroupDirs = (id: string) =>
      ['/sys/fs/cgroup/tsrun', '/sys/fs/cgroup/unified/tsrun', '/sys/fs/cgroup/pids/tsrun', '/sys/fs/cgroup/memory/tsrun'].map((d) => join(d, id)).filter((d) => existsSync(d));
    expect(existsSync(join(cli.runroot, 'runtime', gone))).toBe(true);
    expect(cgroupDirs(gone).length).toBeGreaterThan(0);
    const prune = ok(['system', 'prune', '-f']);
    expect(prune).toContain(`state of removed container ${gone}`);
    expect(prune).not.toContain(`state of removed container ${live}`);
    expect(existsSync(join(cli.runroot, 'runtime', gone))).toBe(false);
    expect(cgroupDirs(gone)).toEqual([]);
    expect(existsSync(join(cli.runroot, 'runtime', live))).toBe(true);
    const stateOfLive = JSON.parse(readFileSync(join(cli.runroot, 'runtime', live, 'state.json'), 'utf8')) as { pid: number };
    process.kill(stateOfLive.pid, 'SIGKILL'); // ours to end: the test made it
    await waitFor(() => !existsSync(`/proc/${stateOfLive.pid}`), 'the live orphan to end');
    await waitFor(() => ok(['system', 'prune', '-f']).includes(`state of removed container ${live}`) || !existsSync(join(cli.runroot, 'runtime', live)), 'the second orphan swept');
    expect(existsSync(join(cli.runroot, 'runtime', live))).toBe(false);
    for (const id of [gone, live]) spawnSync('umount', ['-l', join(aside, id, 'rootfs')]);
  });
});

describe('tsrun history', () => {
  it("lists the image's steps, newest first, with the size of each step's layer", () => {
    const lines = ok(['history', image]).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
    const id = (JSON.parse(ok(['image', 'inspect', image])) as { Id: string }[])[0]!.Id;
    expect(lines[1]!.startsWith(id.slice(7, 19))).toBe(true);
    const rows = ok(['image', 'history', '--no-trunc', '--format', '{{.ID}}|{{.CreatedBy}}|{{.Size}}', image]).trim().split('\n');
    expect(rows.length).toBe(lines.length - 1);
    expect(rows[0]!.startsWith(`${id}|`)).toBe(true);
    // The project's busybox recipe: one layer, made by one step.
    expect(rows[0]).toMatch(/\|busybox-static \+ applet symlinks\|\d+(\.\d+)?MB$/);
    expect(ok(['history', '-q', image]).trim()).toBe(id.slice(7, 19));
  });

  it('names an image it cannot find', () => {
    const r = cli.run(['history', 'no-such-image']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/no such image: no-such-image/);
  });
});

describe('a reader that goes away (| head)', () => {
  /** Runs tsrun with stdout a pipe we close after the first bytes; its exit code and stderr. */
  async function closedEarly(args: string[]): Promise<{ code: number | null; stderr: string }> {
    const child = spawn(process.execPath, cli.args(args), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    return { code, stderr };
  }

  it('ends logs, export and save quietly with 141, as Docker\'s CLI killed by SIGPIPE', async () => {
    ok(['run', '--name', 'chatty', image, 'sh', '-c', 'i=0; while [ $i -lt 50000 ]; do echo line $i; i=$((i+1)); done']);
    for (const args of [['logs', 'chatty'], ['export', 'chatty'], ['save', image]]) {
      const r = await closedEarly(args);
      expect({ args, ...r }).toEqual({ args, code: 141, stderr: '' });
    }
    ok(['rm', 'chatty']);
  });

  it('ends a printing verb quietly with 141 too (it writes its output to fd 1 at once)', async () => {
    // ~300 kB of JSON: more than a pipe holds, so a write meets the closed pipe.
    const r = await closedEarly(['image', 'inspect', ...Array<string>(150).fill(image)]);
    expect(r).toEqual({ code: 141, stderr: '' });
  });
});
