import { describe, expect, it } from 'vitest';
import { mergeTmpfsOptions, mountDepth, parseMount, parseTmpfs, parseVolume, splitCsv, toOciMount } from '../../../src/spec/mounts.js';

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
  it('refuses named and anonymous volumes clearly', () => {
    expect(() => parseVolume('myvol:/data')).toThrow('named volumes are not supported yet: "myvol"');
    expect(() => parseVolume('/data')).toThrow('anonymous volumes are not supported yet');
    expect(() => parseVolume('/data:ro')).toThrow('anonymous volumes are not supported yet');
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
  it('quoted CSV fields', () => {
    expect(splitCsv('type=bind,"src=/a,b",dst=/c')).toEqual(['type=bind', 'src=/a,b', 'dst=/c']);
    expect(parseMount('type=bind,"src=/a,b",dst=/c').source).toBe('/a,b');
  });
  it('refuses what it cannot do or does not understand', () => {
    expect(() => parseMount('type=volume,src=v,dst=/v')).toThrow('volume mounts are not supported yet');
    expect(() => parseMount('src=v,dst=/v')).toThrow('volume mounts are not supported yet');
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
  it('mountDepth counts components', () => {
    expect(mountDepth('/')).toBe(0);
    expect(mountDepth('/a')).toBe(1);
    expect(mountDepth('/a/b/c')).toBe(3);
  });
});
