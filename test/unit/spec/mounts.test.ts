import { describe, expect, it } from 'vitest';
import { imageVolumeRequests, mergeTmpfsOptions, mountDepth, parseMount, parseTmpfs, parseVolume, splitCsv, toOciMount } from '../../../src/spec/mounts.js';

describe('-v / --volume', () => {
  it('host:ctr gives a recursive, rprivate, writable bind that creates the host path', () => {
    expect(parseVolume('/srv/data:/data')).toEqual({
      type: 'bind',
      source: '/srv/data',
      target: '/data',
      readonly: false,
      recursive: true,
      propagation: 'rprivate',
      createHostPath: true,
    });
  });
  it('modes: ro, rw, z/Z, propagation', () => {
    expect(parseVolume('/a:/b:ro').readonly).toBe(true);
    expect(parseVolume('/a:/b:rw').readonly).toBe(false);
    expect(parseVolume('/a:/b:ro,Z').readonly).toBe(true);
    expect(parseVolume('/a:/b:z,rshared').propagation).toBe('rshared');
  });
  it('normalises the container path', () => {
    expect(parseVolume('/a:/b/../c/').target).toBe('/c');
  });
  it('resolves a leading "." against cwd', () => {
    expect(parseVolume('./data:/d', '/home/me').source).toBe('/home/me/data');
  });
  it('name:/ctr is a named volume, with ro and nocopy', () => {
    expect(parseVolume('myvol:/data')).toEqual({ type: 'volume', volumeName: 'myvol', target: '/data', readonly: false, noCopy: false, mode: '' });
    expect(parseVolume('my_vol.2-x:/data/:ro,nocopy')).toEqual({
      type: 'volume',
      volumeName: 'my_vol.2-x',
      target: '/data',
      readonly: true,
      noCopy: true,
      mode: 'ro,nocopy',
    });
    expect(parseVolume('v1:/d:z').readonly).toBe(false);
  });
  it('a lone container path is an anonymous volume', () => {
    expect(parseVolume('/data/')).toEqual({ type: 'volume', target: '/data', readonly: false, noCopy: false, mode: '' });
  });
  it('refuses bad volume names, naming them (Docker\'s rule and messages)', () => {
    expect(() => parseVolume('my/vol:/data')).toThrow('invalid volume name "my/vol" in volume specification "my/vol:/data": "my/vol" includes invalid characters for a local volume name');
    expect(() => parseVolume('_vol:/data')).toThrow('"_vol" includes invalid characters');
    expect(() => parseVolume('-vol:/data')).toThrow('"-vol" includes invalid characters');
    expect(() => parseVolume('v:/data')).toThrow('invalid volume name "v" in volume specification "v:/data": volume name is too short');
    expect(() => parseVolume('vol$:/data')).toThrow('"vol$" includes invalid characters');
    expect(() => parseVolume('data')).toThrow('the container path "data" must be absolute');
  });
  it('refuses a mode without a source, and propagation on a volume', () => {
    expect(() => parseVolume('/data:ro')).toThrow('invalid volume specification "/data:ro": a mode needs a source');
    expect(() => parseVolume('vol:/data:rshared')).toThrow('invalid mode "rshared" in volume specification "vol:/data:rshared": a propagation mode applies to bind mounts only');
  });
  it('refuses bad specifications, naming them', () => {
    expect(() => parseVolume('/a:b')).toThrow('the container path "b" must be absolute');
    expect(() => parseVolume('/a:/b:xx')).toThrow('invalid mode "xx" in volume specification "/a:/b:xx"');
    expect(() => parseVolume('/a:/b:ro,rw')).toThrow('ro and rw given more than once');
    expect(() => parseVolume('/a:/b:shared,slave')).toThrow('more than one propagation mode');
    expect(() => parseVolume('/a:/')).toThrow(`the destination can't be "/"`);
    expect(() => parseVolume('/a:/b:ro:x')).toThrow('expected host-path:container-path');
    expect(() => parseVolume('')).toThrow('invalid volume specification');
  });
});

describe('--mount', () => {
  it('bind with aliases and flags', () => {
    expect(parseMount('type=bind,source=/h,target=/c,readonly')).toEqual({
      type: 'bind',
      source: '/h',
      target: '/c',
      readonly: true,
      recursive: true,
      propagation: 'rprivate',
      createHostPath: false,
    });
    expect(parseMount('type=bind,src=/h,dst=/c,ro=false,bind-propagation=rslave,bind-nonrecursive')).toMatchObject({
      readonly: false,
      propagation: 'rslave',
      recursive: false,
    });
    expect(parseMount('type=bind,src=/h,destination=/c,ro=1').readonly).toBe(true);
  });
  it('tmpfs with size and mode', () => {
    expect(parseMount('type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770')).toEqual({
      type: 'tmpfs',
      target: '/t',
      readonly: false,
      tmpfsOptions: ['nosuid', 'nodev', 'noexec', `size=${64 * 1024 * 1024}`, 'mode=1770'],
    });
  });
  it('volume: named, anonymous, readonly, nocopy, labels; type defaults to volume', () => {
    expect(parseMount('type=volume,source=data,target=/v,readonly,volume-nocopy')).toEqual({
      type: 'volume',
      volumeName: 'data',
      target: '/v',
      readonly: true,
      noCopy: true,
      mode: '',
    });
    expect(parseMount('dst=/v')).toEqual({ type: 'volume', target: '/v', readonly: false, noCopy: false, mode: '' });
    expect(parseMount('src=data,dst=/v,volume-nocopy=false,volume-label=a=1,volume-label=b,volume-driver=local')).toEqual({
      type: 'volume',
      volumeName: 'data',
      target: '/v',
      readonly: false,
      noCopy: false,
      volumeLabels: { a: '1', b: '' },
      volumeDriver: 'local',
      mode: '',
    });
  });
  it('volume: volume-driver names a plugin the engine looks up later', () => {
    expect(parseMount('type=volume,src=data,dst=/v,volume-driver=nfs').volumeDriver).toBe('nfs');
    expect(parseMount('type=volume,src=data,dst=/v').volumeDriver).toBeUndefined();
    expect(() => parseMount('type=volume,src=data,dst=/v,volume-driver=')).toThrow('volume-driver needs a value');
  });
  it('volume: refuses bad names and keys of other types', () => {
    expect(() => parseMount('type=volume,src=/abs,dst=/v')).toThrow('invalid volume name "/abs"');
    expect(() => parseMount('type=volume,src=a:b,dst=/v')).toThrow('"a:b" includes invalid characters');
    expect(() => parseMount('type=volume,src=data,dst=/v,bind-propagation=shared')).toThrow('bind-propagation cannot be used with type=volume');
    expect(() => parseMount('type=bind,src=/a,dst=/v,volume-nocopy')).toThrow('volume-nocopy cannot be used with type=bind');
    expect(() => parseMount('type=volume,src=data,dst=/v,volume-opt=type')).toThrow('volume-opt "type" is not key=value');
    expect(() => parseMount('type=bind,src=/a,dst=/v,volume-opt=type=tmpfs')).toThrow('volume-opt cannot be used with type=bind');
    expect(() => parseMount('type=volume,src=data')).toThrow('target is required');
  });
  it('volume: volume-opt collects the local driver options (a quoted field keeps the commas of o)', () => {
    expect(parseMount('type=volume,src=vv,dst=/d,volume-driver=local,volume-opt=type=tmpfs,volume-opt=device=tmpfs,"volume-opt=o=size=1m,uid=1000"')).toEqual({
      type: 'volume',
      volumeName: 'vv',
      target: '/d',
      readonly: false,
      noCopy: false,
      volumeOptions: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m,uid=1000' },
      volumeDriver: 'local',
      mode: '',
    });
  });
  it('quoted CSV fields', () => {
    expect(splitCsv('type=bind,"src=/a,b",dst=/c')).toEqual(['type=bind', 'src=/a,b', 'dst=/c']);
    expect(parseMount('type=bind,"src=/a,b",dst=/c').source).toBe('/a,b');
  });
  it('refuses what it cannot do or does not understand', () => {
    expect(() => parseMount('type=nfs,dst=/v')).toThrow('unknown mount type "nfs"');
    expect(() => parseMount('type=bind,src=/a')).toThrow('target is required');
    expect(() => parseMount('type=bind,dst=/a')).toThrow('source is required for a bind mount');
    expect(() => parseMount('type=bind,src=rel,dst=/a')).toThrow('must be an absolute host path');
    expect(() => parseMount('type=bind,src=/a,dst=/b,color=blue')).toThrow('unexpected key "color"');
    expect(() => parseMount('type=tmpfs,dst=/t,bind-propagation=shared')).toThrow('bind-propagation cannot be used with type=tmpfs');
    expect(() => parseMount('type=bind,src=/a,dst=/t,tmpfs-size=1m')).toThrow('tmpfs-size cannot be used with type=bind');
    expect(() => parseMount('type=tmpfs,dst=/t,tmpfs-mode=999')).toThrow('not an octal mode');
    expect(() => parseMount('type=tmpfs,src=/x,dst=/t')).toThrow('source is not allowed for tmpfs');
    expect(() => parseMount('type=bind,src=/a,dst=/b,bind-propagation=weird')).toThrow('unknown bind-propagation "weird"');
    expect(() => parseMount('type=bind,"src=/a')).toThrow('unterminated quote');
  });
});

describe('--tmpfs', () => {
  it('defaults to nosuid,nodev,noexec', () => {
    expect(parseTmpfs('/run')).toEqual({ type: 'tmpfs', target: '/run', readonly: false, tmpfsOptions: ['nosuid', 'nodev', 'noexec'] });
  });
  it('user options override their opposites and earlier keys', () => {
    expect(parseTmpfs('/run:exec,size=10m,mode=1777').tmpfsOptions).toEqual(['nosuid', 'nodev', 'exec', 'size=10m', 'mode=1777']);
    expect(parseTmpfs('/run:ro').readonly).toBe(true);
    expect(mergeTmpfsOptions(['size=1'], ['size=2'], 'x')).toEqual(['size=2']);
  });
  it('rejects unknown options and relative paths', () => {
    expect(() => parseTmpfs('/run:bogus')).toThrow('invalid tmpfs option "bogus" in --tmpfs "/run:bogus"');
    expect(() => parseTmpfs('/run:color=red')).toThrow('invalid tmpfs option "color=red"');
    expect(() => parseTmpfs('run')).toThrow('must be absolute');
  });
});

describe('toOciMount', () => {
  it('bind and tmpfs', () => {
    expect(toOciMount(parseVolume('/h:/c:ro'))).toEqual({ destination: '/c', type: 'bind', source: '/h', options: ['rbind', 'rprivate', 'ro'] });
    expect(toOciMount(parseMount('type=bind,src=/h,dst=/c,bind-nonrecursive,bind-propagation=shared'))).toEqual({
      destination: '/c',
      type: 'bind',
      source: '/h',
      options: ['bind', 'shared'],
    });
    expect(toOciMount(parseTmpfs('/t:size=1m,ro'))).toEqual({
      destination: '/t',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'nodev', 'noexec', 'size=1m', 'ro'],
    });
  });
  it('a volume is an rbind of the data directory the engine filled in', () => {
    expect(toOciMount({ ...parseVolume('data:/v:ro'), source: '/var/lib/tsrun/volumes/data/_data' })).toEqual({
      destination: '/v',
      type: 'bind',
      source: '/var/lib/tsrun/volumes/data/_data',
      options: ['rbind', 'rprivate', 'ro'],
    });
    expect(() => toOciMount(parseVolume('data:/v'))).toThrow('the volume at /v has no host directory yet');
  });
  it('mountDepth counts components', () => {
    expect(mountDepth('/')).toBe(0);
    expect(mountDepth('/a')).toBe(1);
    expect(mountDepth('/a/b/c')).toBe(3);
  });
});

describe('image volumes (Dockerfile VOLUME)', () => {
  it('one anonymous volume per path no mount already targets, normalised', () => {
    const mounts = [parseVolume('/h:/covered'), parseTmpfs('/tmpfs'), parseMount('type=volume,src=xv,dst=/mounted')];
    const got = imageVolumeRequests({ '/data/': {}, '/covered': {}, '/tmpfs/': {}, '/mounted': {}, 'rel/dir': {}, '/': {}, '/data': {} }, mounts);
    expect(got).toEqual([
      { type: 'volume', target: '/data', readonly: false, noCopy: false, mode: '', fromImage: true },
      { type: 'volume', target: '/rel/dir', readonly: false, noCopy: false, mode: '', fromImage: true },
    ]);
    expect(got.every((m) => m.volumeName === undefined)).toBe(true);
  });
  it('none without Volumes', () => {
    expect(imageVolumeRequests(undefined, [])).toEqual([]);
    expect(imageVolumeRequests(null, [])).toEqual([]);
  });
});
