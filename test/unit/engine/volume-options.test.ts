// The local driver's options (type, device, o): Docker's validation, and the
// mount(2) arguments they become.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkVolumeDriver, needsMount, resolveServerAddress, validateVolumeOptions, volumeMountArgs } from '../../../src/engine/volume-options.js';
import { UsageError } from '../../../src/errors.js';
import { MS_BIND, MS_NOEXEC, MS_RDONLY, MS_REC } from '../../../src/native/index.js';

describe('checkVolumeDriver', () => {
  it('takes local and any well-formed plugin name (the plugin is looked up when used), refusing malformed ones', () => {
    expect(() => checkVolumeDriver('local')).not.toThrow();
    expect(() => checkVolumeDriver('rexray')).not.toThrow();
    expect(() => checkVolumeDriver('vieux/sshfs:latest')).not.toThrow();
    for (const bad of ['', 'a b', '../x', '-x']) {
      expect(() => checkVolumeDriver(bad)).toThrow(UsageError);
      expect(() => checkVolumeDriver(bad)).toThrow(`invalid volume driver name "${bad}"`);
    }
  });
});

describe('validateVolumeOptions', () => {
  it('accepts none, tmpfs, a bind of an existing dir and any other filesystem type', () => {
    const dir = mkdtempSync(join(tmpdir(), 'volopt-'));
    for (const ok of <Record<string, string>[]>[
      {},
      { type: 'tmpfs', device: 'tmpfs' },
      { type: 'tmpfs', device: 'tmpfs', o: 'size=100m,uid=1000' },
      { type: 'none', device: dir, o: 'bind' },
      { type: 'nfs', device: ':/export', o: 'addr=10.0.0.1,rw' },
    ]) {
      expect(() => validateVolumeOptions(ok)).not.toThrow();
    }
  });
  it("refuses unknown keys, Docker's size quota and options missing what they need, naming them", () => {
    expect(() => validateVolumeOptions({ type: 'tmpfs', device: 'tmpfs', mode: '1777' })).toThrow('invalid option: "mode"');
    expect(() => validateVolumeOptions({ size: '1g' })).toThrow('quota size requested but no quota support');
    expect(() => validateVolumeOptions({ type: 'tmpfs' })).toThrow('missing required option: "device"');
    expect(() => validateVolumeOptions({ device: 'tmpfs' })).toThrow('missing required option: "type"');
    expect(() => validateVolumeOptions({ type: 'tmpfs', device: '' })).toThrow('missing device');
    expect(() => validateVolumeOptions({ o: 'size=1m', device: 'tmpfs' })).toThrow('missing required option: "type"');
  });
  it('refuses a bind whose device does not exist', () => {
    expect(() => validateVolumeOptions({ type: 'none', device: '/nonexistent/volopt', o: 'bind' })).toThrow('device "/nonexistent/volopt" does not exist');
  });
});

describe('volumeMountArgs', () => {
  it('splits o into mount flags and filesystem data, as mount(8) does', () => {
    expect(volumeMountArgs({ type: 'tmpfs', device: 'tmpfs', o: 'size=100m,uid=1000,noexec' })).toEqual({ source: 'tmpfs', fstype: 'tmpfs', flags: MS_NOEXEC, data: 'size=100m,uid=1000' });
    expect(volumeMountArgs({ type: 'none', device: '/srv', o: 'bind,ro' })).toEqual({ source: '/srv', fstype: 'none', flags: MS_BIND | MS_RDONLY, data: '' });
    expect(volumeMountArgs({ type: 'none', device: '/srv', o: 'rbind,ro,rw' }).flags).toBe(MS_BIND | MS_REC);
  });
  it('needsMount: type or device make a mount; none or labels only do not', () => {
    expect(needsMount({})).toBe(false);
    expect(needsMount({ type: 'tmpfs', device: 'tmpfs' })).toBe(true);
  });
});

describe('resolveServerAddress', () => {
  const resolve = async (host: string) => (host === 'files.example' ? '192.0.2.7' : Promise.reject(new Error(`no ${host}`)));
  it('resolves the addr= of nfs and cifs to an address, leaving IPv4 and other types alone', async () => {
    expect(await resolveServerAddress({ type: 'nfs', device: ':/e', o: 'rw,addr=files.example,vers=4' }, resolve)).toEqual({ type: 'nfs', device: ':/e', o: 'rw,addr=192.0.2.7,vers=4' });
    const ip = { type: 'nfs', device: ':/e', o: 'addr=10.0.0.1,rw' };
    expect(await resolveServerAddress(ip, resolve)).toBe(ip);
    const tmpfs = { type: 'tmpfs', device: 'tmpfs', o: 'addr=files.example' };
    expect(await resolveServerAddress(tmpfs, resolve)).toBe(tmpfs);
  });
});
