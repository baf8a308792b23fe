// commit's pieces: the -c parser (Dockerfile instructions applied to an image
// config) and the upper dir -> OCI layer tar conversion (overlay whiteouts and
// opaque dirs back to .wh. entries, the runtime's mount points left out).
// The layer tests make whiteouts and trusted.* xattrs, so they need root.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, linkSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyChanges, plainTar, splitWords, upperLayerTar } from '../../../src/engine/commit.js';
import { native } from '../../../src/native/index.js';
import { TarParser, type TarEntry } from '../../../src/unpack/tar.js';
import { gzipSync } from 'node:zlib';

const isRoot = process.getuid?.() === 0;
const S_IFCHR = 0o020000;

describe('applyChanges (-c)', () => {
  const base = { Cmd: ['sh'], Env: ['PATH=/bin', 'A=old'], WorkingDir: '/srv' };

  it('takes CMD and ENTRYPOINT in JSON and shell form', () => {
    expect(applyChanges(base, ['CMD ["cat","/new"]']).Cmd).toEqual(['cat', '/new']);
    expect(applyChanges(base, ['cmd echo $HOME > /x']).Cmd).toEqual(['/bin/sh', '-c', 'echo $HOME > /x']);
    expect(applyChanges(base, ['CMD [not json']).Cmd).toEqual(['/bin/sh', '-c', '[not json']);
    const ep = applyChanges(base, ['ENTRYPOINT ["/bin/app"]']);
    expect(ep.Entrypoint).toEqual(['/bin/app']);
    expect(ep.Cmd).toBeNull(); // an inherited CMD goes, as in a Dockerfile
    const both = applyChanges(base, ['CMD ["x"]', 'ENTRYPOINT /bin/app -v']);
    expect(both.Entrypoint).toEqual(['/bin/sh', '-c', '/bin/app -v']);
    expect(both.Cmd).toEqual(['x']);
  });

  it('sets and replaces ENV and LABEL in both forms, quotes allowed', () => {
    const c = applyChanges(base, ['ENV A=new B="two words" C=x\\ y', 'ENV D a value with spaces', 'LABEL k=v "o k"=\'q r\'']);
    expect(c.Env).toEqual(['PATH=/bin', 'A=new', 'B=two words', 'C=x y', 'D=a value with spaces']);
    expect(c.Labels).toEqual({ k: 'v', 'o k': 'q r' });
    expect(() => applyChanges(base, ['ENV'])).toThrow(/ENV/);
    expect(() => applyChanges(base, ['ENV =x'])).toThrow(/blank/);
  });

  it('EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL', () => {
    const c = applyChanges(base, ['EXPOSE 80 53/udp 8000-8001', 'VOLUME ["/data","/logs"]', 'VOLUME /a /b', 'USER 1000:1000', 'WORKDIR sub/dir', 'STOPSIGNAL SIGINT']);
    expect(c.ExposedPorts).toEqual({ '80/tcp': {}, '53/udp': {}, '8000/tcp': {}, '8001/tcp': {} });
    expect(c.Volumes).toEqual({ '/data': {}, '/logs': {}, '/a': {}, '/b': {} });
    expect(c.User).toBe('1000:1000');
    expect(c.WorkingDir).toBe('/srv/sub/dir');
    expect(applyChanges(c, ['WORKDIR /abs/../other']).WorkingDir).toBe('/other');
    expect(c.StopSignal).toBe('SIGINT');
    expect(() => applyChanges(base, ['EXPOSE http'])).toThrow(/http/);
  });

  it('refuses other instructions and leaves the input alone', () => {
    expect(() => applyChanges(base, ['RUN echo hi'])).toThrow(/RUN/);
    expect(() => applyChanges(base, ['FROM busybox'])).toThrow(/FROM/);
    applyChanges(base, ['ENV A=changed', 'CMD ["x"]']);
    expect(base).toEqual({ Cmd: ['sh'], Env: ['PATH=/bin', 'A=old'], WorkingDir: '/srv' });
  });

  it('splits words like a shell', () => {
    expect(splitWords(` a "b c"  'd e' f\\ g h""`)).toEqual(['a', 'b c', 'd e', 'f g', 'h']);
    expect(() => splitWords('"open')).toThrow(/quote/);
  });
});

async function entriesOf(chunks: AsyncIterable<Buffer>): Promise<{ name: string; type: TarEntry['type']; linkname: string; data: string }[]> {
  const out: { name: string; type: TarEntry['type']; linkname: string; data: string }[] = [];
  let data: Buffer[] = [];
  const parser = new TarParser({
    entry(e: TarEntry) {
      out.push({ name: e.name, type: e.type, linkname: e.linkname, data: '' });
      data = [];
    },
    data(c: Buffer) {
      data.push(Buffer.from(c));
    },
    endEntry() {
      out[out.length - 1]!.data = Buffer.concat(data).toString();
    },
  });
  for await (const c of chunks) parser.write(c);
  parser.end();
  return out;
}

describe.skipIf(!isRoot)('upperLayerTar', () => {
  let base: string;
  let lower: string;
  let upper: string;

  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'commit-'));
    lower = join(base, 'lower');
    upper = join(base, 'upper');
    // The image: /etc/{passwd,group}, /home/user/x, /var/lib.
    for (const d of ['etc', 'home/user', 'var/lib']) mkdirSync(join(lower, d), { recursive: true });
    writeFileSync(join(lower, 'etc/passwd'), 'root\n');
    writeFileSync(join(lower, 'etc/group'), 'root\n');
    writeFileSync(join(lower, 'home/user/x'), 'x');
    mkdirSync(upper);
  });

  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('turns whiteouts and opaque dirs into .wh. entries and keeps the rest', async () => {
    mkdirSync(join(upper, 'etc'));
    writeFileSync(join(upper, 'etc/passwd'), 'root\nnew\n');
    native().mknod(join(upper, 'etc/group'), S_IFCHR, 0, 0);
    mkdirSync(join(upper, 'home'));
    native().lsetxattr(join(upper, 'home'), 'trusted.overlay.opaque', Buffer.from('y'));
    writeFileSync(join(upper, 'home/h'), 'h');
    writeFileSync(join(upper, 'new'), 'hello');
    linkSync(join(upper, 'new'), join(upper, 'new2'));
    symlinkSync('new', join(upper, 'sym'));
    const entries = await entriesOf(upperLayerTar({ upper, lowerDirs: [lower] }));
    expect(entries.map((e) => `${e.type} ${e.name}`)).toEqual([
      'dir etc/',
      'file etc/.wh.group',
      'file etc/passwd',
      'dir home/',
      'file home/.wh..wh..opq',
      'file home/h',
      'file new',
      'link new2',
      'symlink sym',
    ]);
    expect(entries.find((e) => e.name === 'etc/passwd')!.data).toBe('root\nnew\n');
    expect(entries.find((e) => e.name === 'new2')!.linkname).toBe('new');
    expect(entries.find((e) => e.name === 'sym')!.linkname).toBe('new');
    expect(entries.find((e) => e.name === 'etc/.wh.group')!.data).toBe('');
  });

  it("leaves out the runtime's mount points, only when empty and absent from the image", async () => {
    mkdirSync(join(upper, 'etc'));
    writeFileSync(join(upper, 'etc/hosts'), ''); // made for the bind mount
    writeFileSync(join(upper, 'etc/resolv.conf'), 'nameserver 1.1.1.1\n'); // written by the container
    writeFileSync(join(upper, 'etc/passwd'), ''); // the image has it: the container emptied it
    mkdirSync(join(upper, 'data')); // a volume's directory
    mkdirSync(join(upper, 'var/lib/vol'), { recursive: true });
    writeFileSync(join(upper, 'var/lib/vol/f'), 'f'); // not empty: the container's
    const mountPoints = ['/etc/hosts', '/etc/resolv.conf', '/etc/passwd', '/data', '/var/lib/vol'];
    const entries = await entriesOf(upperLayerTar({ upper, lowerDirs: [lower], mountPoints }));
    expect(entries.map((e) => e.name)).toEqual(['etc/', 'etc/passwd', 'etc/resolv.conf', 'var/', 'var/lib/', 'var/lib/vol/', 'var/lib/vol/f']);
  });

  it('ends with the tar trailer and reads back whole', async () => {
    writeFileSync(join(upper, 'big'), Buffer.alloc(3 * 1024 * 1024 + 7, 0x61));
    const chunks: Buffer[] = [];
    for await (const c of upperLayerTar({ upper, lowerDirs: [lower] })) chunks.push(c);
    const all = Buffer.concat(chunks);
    expect(all.length % 512).toBe(0);
    expect(all.subarray(all.length - 1024).every((b) => b === 0)).toBe(true);
    const entries = await entriesOf((async function* () { yield all; })());
    expect(entries[0]!.data.length).toBe(3 * 1024 * 1024 + 7);
  });
});

describe('plainTar', () => {
  it('inflates gzip input and passes plain input through', async () => {
    const text = Buffer.from('plain tar bytes, or so');
    const collect = async (src: AsyncIterable<Buffer>) => {
      const out: Buffer[] = [];
      for await (const c of plainTar(src)) out.push(c);
      return Buffer.concat(out).toString();
    };
    expect(await collect((async function* () { yield text.subarray(0, 1); yield text.subarray(1); })())).toBe(text.toString());
    const gz = gzipSync(text);
    expect(await collect((async function* () { yield gz.subarray(0, 1); yield gz.subarray(1); })())).toBe(text.toString());
    expect(await collect((async function* () {})())).toBe('');
  });
});
