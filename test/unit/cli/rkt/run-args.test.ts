import { describe, expect, it } from 'vitest';
import { parseRunArgs } from '../../../../src/cli/rkt/run-args.js';
import { UsageError } from '../../../../src/errors.js';

describe('tsrkt run argv grammar', () => {
  it('takes one image with no flags', () => {
    const r = parseRunArgs(['busybox']);
    expect(r.spec.apps).toEqual([{ image: 'busybox', args: [], environment: [], mounts: [] }]);
    expect(r.spec.net).toBe('default');
    expect(r.spec.pullPolicy).toBe('new');
  });

  it("splits rkt's documented example into two apps with their own exec and args", () => {
    const r = parseRunArgs(['ex.com/worker', '--exec', '/bin/ov', '--', '-v', '---', 'ex.com/syncer', '--', '--interval', '30s']);
    expect(r.spec.apps.map((a) => [a.image, a.exec, a.args])).toEqual([
      ['ex.com/worker', '/bin/ov', ['-v']],
      ['ex.com/syncer', undefined, ['--interval', '30s']],
    ]);
  });

  it('keeps flags and --- inside args... until a lone ---; args may contain --', () => {
    const r = parseRunArgs(['a', '--', '--name', 'x', '--', 'y', '---', 'b', '--name=bee']);
    expect(r.spec.apps[0]!.args).toEqual(['--name', 'x', '--', 'y']);
    expect(r.spec.apps[0]!.name).toBeUndefined();
    expect(r.spec.apps[1]!.name).toBe('bee');
  });

  it('starts a new app at a bare word after an image (rkt run a b)', () => {
    const r = parseRunArgs(['a', '--name', 'one', 'b', '---', 'c']);
    expect(r.spec.apps.map((a) => a.image)).toEqual(['a', 'b', 'c']);
    expect(r.spec.apps[0]!.name).toBe('one');
  });

  it('parses every app flag in both --flag=value and --flag value forms', () => {
    const r = parseRunArgs([
      '--volume=data,kind=empty', // the --mount below names it: an undeclared volume is refused
      'img', '--exec=/bin/sh', '--name', 'web', '--user=1000', '--group', '100', '--working-dir=/srv',
      '--environment', 'A=1', '--environment=B=2', '--memory', '64M', '--cpu=500m', '--mount', 'volume=data,target=/data',
    ]);
    expect(r.spec.apps[0]).toEqual({
      image: 'img', exec: '/bin/sh', name: 'web', user: '1000', group: '100', workingDir: '/srv',
      environment: ['A=1', 'B=2'], memory: '64M', cpu: '500m', mounts: [{ volume: 'data', target: '/data' }], args: [],
    });
  });

  it('parses pod flags before the first image; a --mount there applies to the pod', () => {
    const r = parseRunArgs([
      '--volume', 'data,kind=host,source=/srv,readOnly=true', '--volume=tmp,kind=empty,mode=0700,uid=5',
      '--net=none', '--hostname', 'h1', '--set-env', 'X=1', '--set-env-file=/e', '--inherit-env', '--interactive=false',
      '--uuid-file-save', '/tmp/u', '--pull-policy=never', '--mount', 'volume=data,target=/d', 'img',
    ]);
    expect(r.spec.volumes).toEqual([
      { name: 'data', kind: 'host', source: '/srv', readOnly: true },
      { name: 'tmp', kind: 'empty', readOnly: false, mode: 0o700, uid: 5 },
    ]);
    expect(r.spec).toMatchObject({ net: 'none', hostname: 'h1', setEnv: ['X=1'], setEnvFile: ['/e'], inheritEnv: true, interactive: false, pullPolicy: 'never' });
    expect(r.uuidFileSave).toBe('/tmp/u');
    expect(r.podMounts).toEqual([{ volume: 'data', target: '/d' }]);
    expect(r.spec.apps[0]!.mounts).toEqual([]);
  });

  it('--net alone means default; --net=host, --net=none; --port parses NAME:[IP:]PORT', () => {
    expect(parseRunArgs(['--net', 'img']).spec.net).toBe('default');
    expect(parseRunArgs(['--net=host', 'img']).spec.net).toBe('host');
    // Named networks (tsrun network create), several at once; default only when listed.
    expect(parseRunArgs(['--net=mynet', 'img']).spec.net).toBe('mynet');
    expect(parseRunArgs(['--net=default,mynet', '--port', '80-tcp:8080', 'img']).spec.net).toBe('default,mynet');
    const r = parseRunArgs(['--port', '80-tcp:8080', '--port=53-udp:127.0.0.1:5353', 'img']);
    expect(r.spec.ports).toEqual([{ name: '80-tcp', hostPort: 8080 }, { name: '53-udp', hostIp: '127.0.0.1', hostPort: 5353 }]);
  });

  it('refuses misplaced, unknown and malformed flags with a message naming them', () => {
    const bad: Array<[string[], RegExp]> = [
      [['--exec', '/x', 'img'], /--exec is an app flag/],
      [['img', '--net=host'], /--net is a pod flag/],
      [['img', '--hostname', 'x'], /--hostname is a pod flag/],
      [['--bogus', 'img'], /unknown flag --bogus/],
      [['img', '--bogus=1'], /unknown flag --bogus/],
      [['img', '-e', 'x'], /unknown flag -e/],
      [[], /at least one image/],
      [['--', 'x'], /before any image/],
      [['---', 'img'], /before any image/],
      [['img', '--name'], /--name needs a value/],
      [['img', '--name', 'Upper'], /invalid --name "Upper"/],
      [['--interactive', 'a', '---', 'b'], /one image only/],
      [['--net=host', '--port', '80-tcp:80', 'img'], /contained network/],
      [['--net=host,mynet', 'img'], /host and none cannot be combined/],
      [['--net=mynet:IP=10.1.1.1', 'img'], /per-network arguments/],
      [['--net=a,a', 'img'], /listed twice/],
      [['--pull-policy=sometimes', 'img'], /sometimes/],
      [['--volume', 'v,kind=nfs', 'img'], /kind must be host or empty/],
      [['--volume', 'v,kind=host,source=rel', 'img'], /source=ABSOLUTE-PATH/],
      [['--port', '80-tcp:99999', 'img'], /99999/],
      [['img', '--mount', 'volume=v'], /volume=NAME,target=PATH/],
      [['img', '--stdin=tty'], /--stdin=tty needs --stdout=tty and --stderr=tty/],
      [['img', '--stdout=null'], /--stdout=null is not supported/],
      [['img', '--stdin=log'], /invalid stdin mode "log"/],
      [['--stdin=stream', 'img'], /--stdin is an app flag/],
      [['--interactive', 'img', '--stdin=stream'], /--interactive .* cannot be combined/],
      [['--dns=host', '--dns=1.1.1.1', 'img'], /no other --dns options allowed when --dns=host/],
      [['--dns=none', '--dns-search=x', 'img'], /with --dns=none/],
      [['--dns=8.8.8', 'img'], /invalid IP passed to --dns/],
      [['--hosts-entry=db', 'img'], /did not understand --hosts-entry "db"/],
      [['img', '--dns=1.1.1.1'], /--dns is a pod flag/],
      [['--interactive=maybe', 'img'], /maybe/],
      // Checked as they are parsed, not when the app is made (after the image is fetched).
      [['img', '--memory=lots'], /invalid --memory "lots"/],
      [['img', '--cpu', 'fast'], /invalid --cpu "fast"/],
      [['--hostname=-bad-', 'img'], /invalid --hostname "-bad-"/],
      [['--hostname', 'a'.repeat(65), 'img'], /invalid --hostname/],
      [['img', '--mount', 'volume=nov,target=/x'], /--mount volume=nov: no volume of that name/],
      [['--mount', 'volume=nov,target=/x', 'img'], /--mount volume=nov: no volume of that name/],
      [['a', '--name=x', '---', 'b', '--name=x'], /two apps are named "x"/],
    ];
    for (const [argv, msg] of bad) {
      expect(() => parseRunArgs(argv), argv.join(' ')).toThrow(UsageError);
      expect(() => parseRunArgs(argv), argv.join(' ')).toThrow(msg);
    }
  });

  it('parses the DNS pod flags and the per-app stdio modes', () => {
    const r = parseRunArgs([
      '--dns', '10.0.0.1', '--dns=10.0.0.2,10.0.0.3', '--dns-search=a.example', '--dns-opt', 'ndots:2', '--dns-domain=example.org',
      '--hosts-entry', '10.1.1.1=db', 'one', '--stdin=stream', '--stdout', 'stream', '---', 'two', '--stdout=tty', '--stderr=tty', '--stdin=tty',
    ]);
    expect(r.spec).toMatchObject({
      dns: ['10.0.0.1', '10.0.0.2,10.0.0.3'], dnsSearch: ['a.example'], dnsOpt: ['ndots:2'], dnsDomain: 'example.org', hostsEntries: ['10.1.1.1=db'],
    });
    expect(r.spec.apps.map((a) => a.stdio)).toEqual([{ stdin: 'stream', stdout: 'stream' }, { stdout: 'tty', stderr: 'tty', stdin: 'tty' }]);
  });

  it('names the verb in its messages', () => {
    expect(() => parseRunArgs([], { verb: 'prepare' })).toThrow(/prepare needs at least one image/);
  });

  it('takes --insecure-options among the pod flags, both forms, adding up; refuses it after an image and bad values', () => {
    expect([...parseRunArgs(['busybox']).insecure]).toEqual([]);
    const r = parseRunArgs(['--insecure-options=image', '--insecure-options', 'paths,seccomp', 'busybox']);
    expect([...r.insecure].sort()).toEqual(['image', 'paths', 'seccomp']);
    expect(r.spec.apps.map((a) => a.image)).toEqual(['busybox']);
    expect(() => parseRunArgs(['busybox', '--insecure-options=image'])).toThrow(/--insecure-options is a pod flag/);
    expect(() => parseRunArgs(['--insecure-options=image,bogus', 'busybox'])).toThrow(/invalid value "bogus" for --insecure-options: .*none, image, tls/);
    expect(() => parseRunArgs(['--insecure-options'])).toThrow(/--insecure-options needs a value/);
  });
});
