// tsrun cp, diff and export end to end: the built CLI against real containers
// from the project's busybox image (served by a docker-registry on 127.0.0.1),
// running and stopped, with Docker's path rules, tar streams, volumes, and
// symlinks that must resolve inside the container, never on the host.
// Run as root under the integration lock.
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRegistry, serveBusybox } from '../support/registry-server.js';
import { type CliResult, TsrunCli } from '../support/tsrun-cli.js';

let reg: RunningRegistry;
let cli: TsrunCli;
let image: string;
/** Host files the tests copy from and to. */
let host: string;

beforeAll(async () => {
  ({ registry: reg, image } = await serveBusybox());
  cli = new TsrunCli();
  const pulled = cli.run(['pull', '-q', image]);
  expect(pulled.code, pulled.stderr).toBe(0);
  host = mkdtempSync('/tmp/tsrun-cp-host-');
}, 180_000);

afterAll(async () => {
  cli?.destroy();
  await reg?.stop();
  if (host) rmSync(host, { recursive: true, force: true });
});

/** The CLI with binary stdin/stdout (tar streams). */
function runBinary(args: string[], input?: Buffer): { code: number; stdout: Buffer; stderr: string } {
  const r = spawnSync(process.execPath, cli.args(args), { input: input ?? Buffer.alloc(0), timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
}

function ok(r: CliResult): string {
  expect(r.code, `${r.stderr}`).toBe(0);
  return r.stdout;
}

/** Runs a shell command in a running container. */
const sh = (container: string, script: string): string => ok(cli.run(['exec', container, 'sh', '-c', script]));

const tarList = (tar: Buffer): string[] =>
  spawnSync('tar', ['-t'], { input: tar, encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean);

const idOf = (name: string) => ok(cli.run(['inspect', '-f', '{{.Id}}', name])).trim();
const rootfsOf = (name: string) => join(cli.root, 'containers', idOf(name), 'rootfs');
const upperOf = (name: string) => join(cli.root, 'containers', idOf(name), 'upper');

/** What a reboot leaves of a created container (create mounts its rootfs): no mount. */
describe('tsrun cp on a running container', () => {
  beforeAll(() => {
    ok(cli.run(['run', '-d', '--name', 'run1', image, 'sleep', '600']));
    sh('run1', 'mkdir -p /src/d/sub && echo f-content > /src/d/f && echo g-content > /src/d/sub/g && chmod 640 /src/d/f');
  });

  it('copies a file out, and a file in owned by root (by the source owner with -a)', () => {
    const out = join(host, 'hostname');
    ok(cli.run(['cp', 'run1:/etc/hostname', out]));
    expect(readFileSync(out, 'utf8')).toBe(sh('run1', 'cat /etc/hostname'));

    const f = join(host, 'owned');
    writeFileSync(f, 'from the host\n');
    chownSync(f, 4321, 4322);
    ok(cli.run(['cp', f, 'run1:/tmp/']));
    ok(cli.run(['cp', '-a', f, 'run1:/tmp/kept']));
    expect(sh('run1', 'cat /tmp/owned')).toBe('from the host\n');
    expect(sh('run1', 'stat -c "%u:%g" /tmp/owned /tmp/kept')).toBe('0:0\n4321:4322\n');
  });

  it("follows Docker's naming rules out of the container", () => {
    const dst = mkdtempSync(join(host, 'out-'));
    // A directory to a new path becomes that directory.
    ok(cli.run(['cp', 'run1:/src/d', join(dst, 'new')]));
    expect(readFileSync(join(dst, 'new/f'), 'utf8')).toBe('f-content\n');
    expect(statSync(join(dst, 'new/f')).mode & 0o777).toBe(0o640);
    expect(readFileSync(join(dst, 'new/sub/g'), 'utf8')).toBe('g-content\n');
    // Into an existing directory: a copy named after it; with "/." its content.
    mkdirSync(join(dst, 'into'));
    ok(cli.run(['cp', 'run1:/src/d', join(dst, 'into')]));
    expect(readdirSync(join(dst, 'into'))).toEqual(['d']);
    mkdirSync(join(dst, 'content'));
    ok(cli.run(['cp', 'run1:/src/d/.', join(dst, 'content')]));
    expect(readdirSync(join(dst, 'content')).sort()).toEqual(['f', 'sub']);
    // A file onto an existing file replaces it; into a directory it keeps its name.
    writeFileSync(join(dst, 'existing'), 'old');
    ok(cli.run(['cp', 'run1:/src/d/f', join(dst, 'existing')]));
    expect(readFileSync(join(dst, 'existing'), 'utf8')).toBe('f-content\n');
    ok(cli.run(['cp', 'run1:/src/d/f', `${dst}/content/sub/`]));
    expect(readFileSync(join(dst, 'content/sub/f'), 'utf8')).toBe('f-content\n');
  });

  it("refuses what Docker refuses, with Docker's messages and exit codes", () => {
    const dst = mkdtempSync(join(host, 'err-'));
    writeFileSync(join(dst, 'file'), 'keep');
    const dirOntoFile = cli.run(['cp', 'run1:/src/d', join(dst, 'file')]);
    expect(dirOntoFile.code).toBe(1);
    expect(dirOntoFile.stderr).toContain('cannot copy directory');
    expect(readFileSync(join(dst, 'file'), 'utf8')).toBe('keep');
    const fileToNewDir = cli.run(['cp', 'run1:/src/d/f', `${dst}/nodir/`]);
    expect(fileToNewDir.code).toBe(1);
    expect(fileToNewDir.stderr).toContain('no such directory');
    const missing = cli.run(['cp', 'run1:/nope', dst]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('Could not find the file /nope in container run1');
    const missingParent = cli.run(['cp', join(dst, 'file'), 'run1:/no/such/dir/x']);
    expect(missingParent.code).toBe(1);
    expect(missingParent.stderr).toContain('Could not find the file /no/such/dir in container run1');
    const noOutputDir = cli.run(['cp', 'run1:/src/d/f', '/nonexistent-dir-for-cp/x']);
    expect(noOutputDir.code).toBe(1);
    expect(noOutputDir.stderr).toContain('invalid output path: directory "/nonexistent-dir-for-cp" does not exist');
    // tsrun's own usage errors: 125.
    expect(cli.run(['cp', 'run1:/a', 'run1:/b']).code).toBe(125);
    expect(cli.run(['cp', join(dst, 'file'), join(dst, 'x')]).code).toBe(125);
    expect(cli.run(['cp', 'no-such-container:/a', dst]).code).toBe(125);
    expect(cli.run(['cp', 'run1:/src/d/f']).code).toBe(125);
  });

  it("follows Docker's naming rules into the container", () => {
    const src = mkdtempSync(join(host, 'in-'));
    mkdirSync(join(src, 'tree/inner'), { recursive: true });
    writeFileSync(join(src, 'tree/top'), 'top\n');
    writeFileSync(join(src, 'tree/inner/deep'), 'deep\n');
    ok(cli.run(['cp', join(src, 'tree'), 'run1:/tmp/newtree']));
    sh('run1', 'mkdir /tmp/existing /tmp/contents');
    ok(cli.run(['cp', join(src, 'tree'), 'run1:/tmp/existing']));
    ok(cli.run(['cp', `${join(src, 'tree')}/.`, 'run1:/tmp/contents']));
    expect(sh('run1', 'cat /tmp/newtree/inner/deep /tmp/existing/tree/top; ls /tmp/contents')).toBe('deep\ntop\ninner\ntop\n');
    const onto = cli.run(['cp', join(src, 'tree'), 'run1:/tmp/owned']);
    expect(onto.code).toBe(1);
    expect(onto.stderr).toContain('cannot copy directory');
    const intoMissingDir = cli.run(['cp', join(src, 'tree/top'), 'run1:/tmp/not-there/']);
    expect(intoMissingDir.code).toBe(1);
    expect(intoMissingDir.stderr).toContain('no such directory');
    const noSource = cli.run(['cp', join(src, 'absent'), 'run1:/tmp/']);
    expect(noSource.code).toBe(1);
    expect(noSource.stderr).toContain(`lstat ${join(src, 'absent')}: no such file or directory`);
  });

  it('streams a tar archive out with "-", and extracts one from stdin into a directory', () => {
    const out = runBinary(['cp', 'run1:/src/d', '-']);
    expect(out.code, out.stderr).toBe(0);
    expect(tarList(out.stdout)).toEqual(['d/', 'd/f', 'd/sub/', 'd/sub/g']);
    const contentOnly = runBinary(['cp', 'run1:/src/d/.', '-']);
    expect(tarList(contentOnly.stdout)).toEqual(['./', './f', './sub/', './sub/g']);

    const src = mkdtempSync(join(host, 'stream-'));
    mkdirSync(join(src, 'x'));
    writeFileSync(join(src, 'x/y'), 'streamed\n');
    const tar = spawnSync('tar', ['-C', src, '-c', 'x']).stdout;
    sh('run1', 'mkdir /tmp/streamdir');
    const r = runBinary(['cp', '-', 'run1:/tmp/streamdir'], tar);
    expect(r.code, r.stderr).toBe(0);
    expect(sh('run1', 'cat /tmp/streamdir/x/y')).toBe('streamed\n');
    const notDir = runBinary(['cp', '-', 'run1:/tmp/streamdir/x/y'], tar);
    expect(notDir.code).toBe(1);
    expect(notDir.stderr).toContain('destination "run1:/tmp/streamdir/x/y" must be a directory');
    // An archive entry climbing out with ".." is refused, and nothing lands outside.
    const evil = spawnSync('tar', ['-C', src, '-c', '-P', '--transform', 's,^x/y,../../escaped,', 'x/y']).stdout;
    expect(tarList(evil)).toContain('../../escaped');
    expect(runBinary(['cp', '-', 'run1:/tmp/streamdir'], evil).code).not.toBe(0);
    expect(sh('run1', 'ls /escaped /tmp/escaped 2>&1 || true')).toMatch(/No such file/);
  });
});

describe('symlinks resolve inside the container', () => {
  let victimDir: string;

  beforeAll(() => {
    ok(cli.run(['run', '-d', '--name', 'links', image, 'sleep', '600']));
    victimDir = mkdtempSync('/tmp/tsrun-cp-victim-');
    writeFileSync(join(victimDir, 'victim'), 'host content\n');
    sh('links', `ln -s /etc/passwd /tmp/pw && ln -s ../../../../../../../etc/passwd /tmp/up && ln -s /etc /tmp/etcdir && ln -s ${victimDir} /tmp/out && ln -s ${victimDir}/victim /tmp/rd`);
  });

  afterAll(() => rmSync(victimDir, { recursive: true, force: true }));

  it("reads the container's file through an absolute or climbing symlink (-L), never the host's", () => {
    const containerPasswd = sh('links', 'cat /etc/passwd');
    expect(containerPasswd).not.toBe(readFileSync('/etc/passwd', 'utf8'));
    ok(cli.run(['cp', '-L', 'links:/tmp/pw', join(host, 'pw')]));
    expect(readFileSync(join(host, 'pw'), 'utf8')).toBe(containerPasswd);
    ok(cli.run(['cp', '-L', 'links:/tmp/up', join(host, 'up')]));
    expect(readFileSync(join(host, 'up'), 'utf8')).toBe(containerPasswd);
    ok(cli.run(['cp', 'links:/tmp/etcdir/passwd', join(host, 'via-dir')]));
    expect(readFileSync(join(host, 'via-dir'), 'utf8')).toBe(containerPasswd);
    // Without -L the link itself is copied, its target verbatim.
    ok(cli.run(['cp', 'links:/tmp/pw', join(host, 'pw-link')]));
    expect(readlinkSync(join(host, 'pw-link'))).toBe('/etc/passwd');
    // A link to a path that exists only on the host finds nothing in the container.
    const hostOnly = cli.run(['cp', '-L', 'links:/tmp/rd', join(host, 'rd')]);
    expect(hostOnly.code).toBe(1);
    expect(hostOnly.stderr).toContain(`Could not find the file ${victimDir}/victim in container links`);
    expect(existsSync(join(host, 'rd'))).toBe(false);
  });

  it('writes through a symlinked directory into the container, never onto the host', () => {
    const f = join(host, 'payload');
    writeFileSync(f, 'payload\n');
    // The link's target does not exist in the container: nothing to write into.
    const r = cli.run(['cp', f, 'links:/tmp/out/victim']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Could not find the file /tmp/out in container links');
    expect(readFileSync(join(victimDir, 'victim'), 'utf8')).toBe('host content\n');
    // Once it exists in the container, the copy lands there.
    sh('links', `mkdir -p ${victimDir}`);
    ok(cli.run(['cp', f, 'links:/tmp/out/victim']));
    expect(sh('links', `cat ${victimDir}/victim`)).toBe('payload\n');
    expect(readFileSync(join(victimDir, 'victim'), 'utf8')).toBe('host content\n');
    ok(cli.run(['cp', f, 'links:/tmp/etcdir/']));
    expect(sh('links', 'cat /etc/payload')).toBe('payload\n');
    expect(existsSync('/etc/payload')).toBe(false);
    // And -L now reads the container's copy.
    ok(cli.run(['cp', '-L', 'links:/tmp/rd', join(host, 'rd2')]));
    expect(readFileSync(join(host, 'rd2'), 'utf8')).toBe('payload\n');
  });
});

describe('volumes and binds', () => {
  let bindDir: string;

  beforeAll(() => {
    bindDir = mkdtempSync('/tmp/tsrun-cp-bind-');
    writeFileSync(join(bindDir, 'b'), 'bound\n');
    ok(cli.run(['run', '-d', '--name', 'vols', '-v', 'cpvol:/data', '-v', `${bindDir}:/ro:ro`, image, 'sleep', '600']));
  });

  afterAll(() => rmSync(bindDir, { recursive: true, force: true }));

  it('copies into a volume path: the file lands in the volume, not in the container layer', () => {
    const f = join(host, 'to-volume');
    writeFileSync(f, 'in the volume\n');
    ok(cli.run(['cp', f, 'vols:/data/']));
    expect(readFileSync(join(cli.root, 'volumes/cpvol/_data/to-volume'), 'utf8')).toBe('in the volume\n');
    expect(existsSync(join(upperOf('vols'), 'data/to-volume'))).toBe(false);
    expect(sh('vols', 'cat /data/to-volume')).toBe('in the volume\n');
    ok(cli.run(['cp', 'vols:/data/to-volume', join(host, 'from-volume')]));
    expect(readFileSync(join(host, 'from-volume'), 'utf8')).toBe('in the volume\n');
  });

  it("reads a bind mount's source and refuses to write to a read-only one", () => {
    ok(cli.run(['cp', 'vols:/ro/b', join(host, 'from-bind')]));
    expect(readFileSync(join(host, 'from-bind'), 'utf8')).toBe('bound\n');
    const r = cli.run(['cp', join(host, 'from-bind'), 'vols:/ro/new']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('mounted volume is marked read-only');
    expect(existsSync(join(bindDir, 'new'))).toBe(false);
  });

  it("copies /etc/hosts from the container's own hosts file", () => {
    ok(cli.run(['cp', 'vols:/etc/hosts', join(host, 'hosts')]));
    expect(readFileSync(join(host, 'hosts'), 'utf8')).toBe(sh('vols', 'cat /etc/hosts'));
  });
});

describe('stopped containers', () => {
  it('copies into a created container whose rootfs is not mounted, and the process sees the file', () => {
    ok(cli.run(['create', '--name', 'later', image, 'cat', '/tmp/in']));
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(` ${rootfsOf('later')} `); // create leaves no mount
    const f = join(host, 'in');
    writeFileSync(f, 'copied before start\n');
    ok(cli.run(['cp', f, 'later:/tmp/in']));
    const r = cli.run(['start', '-a', 'later']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('copied before start\n');
  });

  it('copies out of an exited container, whose rootfs its exit unmounted', () => {
    ok(cli.run(['run', '--name', 'done', image, 'sh', '-c', 'mkdir /made && echo made > /made/it']));
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(` ${rootfsOf('done')} `);
    ok(cli.run(['cp', 'done:/made', join(host, 'made')]));
    expect(readFileSync(join(host, 'made/it'), 'utf8')).toBe('made\n');
    expect(ok(cli.run(['diff', 'done']))).toBe('A /made\nA /made/it\n');
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(` ${rootfsOf('done')} `); // cp mounted it for its copy only
  });
});

describe('tsrun diff', () => {
  it("lists nothing for a fresh container, then Docker's A/C/D lines for its changes", () => {
    ok(cli.run(['run', '-d', '--name', 'changes', '-v', '/anon', image, 'sleep', '600']));
    expect(ok(cli.run(['diff', 'changes']))).toBe('');
    sh('changes', 'echo more >> /etc/passwd && rm /etc/group && mkdir -p /new/dir && echo x > /new/dir/f && rm -rf /home && echo v > /anon/v');
    expect(ok(cli.run(['diff', 'changes']))).toBe(['C /etc', 'D /etc/group', 'C /etc/passwd', 'D /home', 'A /new', 'A /new/dir', 'A /new/dir/f', ''].join('\n'));
    expect(ok(cli.run(['container', 'diff', 'changes']))).toContain('D /etc/group\n');
    expect(cli.run(['diff', 'no-such-container']).code).toBe(125);
  });
});

describe('tsrun export', () => {
  beforeAll(() => {
    ok(cli.run(['run', '-d', '--name', 'exp', '-v', 'expvol:/data', image, 'sleep', '600']));
    sh('exp', 'echo exported > /root/new && rm /etc/group && echo in-volume > /data/v');
  });

  it("writes the container's filesystem with its changes, not the host's files nor the volume's", () => {
    const r = runBinary(['export', 'exp']);
    expect(r.code, r.stderr).toBe(0);
    const names = tarList(r.stdout);
    expect(names).toContain('root/new');
    expect(names).toContain('bin/busybox');
    expect(names).toContain('data/');
    expect(names).not.toContain('data/v');
    expect(names).not.toContain('etc/group');
    expect(names.some((n) => n.startsWith('usr/'))).toBe(false); // the host has /usr; busybox does not
    expect(names.every((n) => !n.startsWith('/') && !n.startsWith('./'))).toBe(true);
    const passwd = spawnSync('tar', ['-xO', 'etc/passwd'], { input: r.stdout }).stdout.toString();
    expect(passwd).toBe(sh('exp', 'cat /etc/passwd'));
    expect(passwd).not.toBe(readFileSync('/etc/passwd', 'utf8'));
    const newFile = spawnSync('tar', ['-xO', 'root/new'], { input: r.stdout }).stdout.toString();
    expect(newFile).toBe('exported\n');
  });

  it('writes a file with -o, also as "container export", and refuses a terminal', () => {
    const file = join(host, 'exp.tar');
    ok(cli.run(['container', 'export', '-o', file, 'exp']));
    expect(tarList(readFileSync(file))).toContain('root/new');
    expect(lstatSync(file).isFile()).toBe(true);
    const cmd = [process.execPath, ...cli.args(['export', 'exp'])].map((a) => `'${a}'`).join(' ');
    const tty = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 60_000 });
    expect(tty.status).toBe(125);
    expect(tty.stdout).toContain('cowardly refusing to save to a terminal');
  });
});

describe('tsrun container cp', () => {
  it('is the same verb', () => {
    ok(cli.run(['run', '-d', '--name', 'alias', image, 'sleep', '600']));
    const f = join(host, 'alias-file');
    writeFileSync(f, 'alias\n');
    symlinkSync(f, join(host, 'alias-link'));
    // -L on the host side copies the link's target under the link's name.
    ok(cli.run(['container', 'cp', '-L', join(host, 'alias-link'), 'alias:/tmp/']));
    expect(sh('alias', 'cat /tmp/alias-link')).toBe('alias\n');
  });
});
