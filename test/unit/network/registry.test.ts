// User network definitions: subnet choice, name rules, the host-wide registry
// with its per-root copies (restored after a "reboot" empties the host-wide dir).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError, UsageError } from '../../../src/errors.js';
import { bridgeNameFor, chooseSubnet, NetworkRegistry, parseRange, rangesOverlap, validateNetworkName } from '../../../src/network/registry.js';

describe('chooseSubnet', () => {
  it('takes 10.89.0.0/24 when nothing is in the way', () => {
    expect(chooseSubnet([]).cidr).toBe('10.89.0.0/24');
  });

  it('skips subnets of other networks, host addresses and wider routes', () => {
    const taken = [parseRange('10.89.0.0/24')!, parseRange('10.89.1.7')!, parseRange('10.89.2.0/23')!];
    expect(chooseSubnet(taken).cidr).toBe('10.89.4.0/24');
    // A /16 route over the whole of 10.89 pushes the choice to 10.90.
    expect(chooseSubnet([parseRange('10.89.0.0/16')!]).cidr).toBe('10.90.0.0/24');
  });

  it('fails with a message naming the range when everything is taken', () => {
    expect(() => chooseSubnet([parseRange('10.0.0.0/8')!])).toThrow(ConflictError);
    expect(() => chooseSubnet([parseRange('10.0.0.0/8')!])).toThrow(/10\.89\.0\.0\/24/);
  });
});

describe('ranges', () => {
  it('parses routes and addresses, ignoring default and IPv6', () => {
    expect(parseRange('10.1.2.3')).toEqual({ network: parseRange('10.1.2.3/32')!.network, prefixLength: 32 });
    expect(parseRange('10.1.2.3/16')).toEqual(parseRange('10.1.0.0/16'));
    expect(parseRange('default')).toBeUndefined();
    expect(parseRange('fe80::/64')).toBeUndefined();
    expect(parseRange('300.1.1.1')).toBeUndefined();
  });

  it('overlap is containment either way', () => {
    expect(rangesOverlap(parseRange('10.88.0.0/16')!, parseRange('10.88.5.0/24')!)).toBe(true);
    expect(rangesOverlap(parseRange('10.88.5.0/24')!, parseRange('10.88.0.0/16')!)).toBe(true);
    expect(rangesOverlap(parseRange('10.89.0.0/24')!, parseRange('10.88.0.0/16')!)).toBe(false);
  });
});

describe('names', () => {
  it('bridge names fit in 15 bytes', () => {
    expect(bridgeNameFor('a'.repeat(64))).toBe('tsrun-aaaaaaaaa');
    expect(bridgeNameFor('a'.repeat(64)).length).toBe(15);
  });

  it('refuses reserved and malformed network names', () => {
    for (const n of ['bridge', 'host', 'none', 'default', 'tsrun']) expect(() => validateNetworkName(n)).toThrow(/reserved/);
    for (const n of ['', '-x', 'a b', 'x'.repeat(65)]) expect(() => validateNetworkName(n)).toThrow(UsageError);
    expect(() => validateNetworkName('my-net_1.a')).not.toThrow();
  });
});

describe('NetworkRegistry', () => {
  let base: string;
  const saved = process.env.TSRUN_NETWORK_STATE;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'tsrun-registry-'));
    process.env.TSRUN_NETWORK_STATE = join(base, 'host');
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.TSRUN_NETWORK_STATE;
    else process.env.TSRUN_NETWORK_STATE = saved;
    rmSync(base, { recursive: true, force: true });
  });
  const registry = (root: string, hostRanges = ['10.88.0.0/16']) =>
    new NetworkRegistry(join(base, root, 'network'), 'tsrun', async () => hostRanges.map((r) => parseRange(r)!));

  it('creates networks on distinct free subnets and bridges, visible to every root', async () => {
    const a = registry('rootA', ['10.88.0.0/16', '10.89.0.0/24']);
    const one = await a.create({ name: 'one', labels: { k: 'v' } });
    expect(one.subnet).toBe('10.89.1.0/24');
    expect(one.gateway).toBe('10.89.1.1');
    expect(one.table).toBe('tsrun');
    expect(one.bridge).toMatch(/^tsrun-[0-9a-f]{9}$/);
    const two = await registry('rootB').create({ name: 'two' });
    expect(two.subnet).toBe('10.89.0.0/24'); // rootB's host view has 10.89.0.0 free, and one took 10.89.1
    expect(two.bridge).not.toBe(one.bridge);
    expect((await registry('rootB').list()).map((n) => n.name)).toEqual(['one', 'two']);
    expect((await registry('rootB').get(one.id.slice(0, 8))).name).toBe('one');
  });

  it('refuses a taken name, an overlapping subnet, a gateway other than the first address and other drivers', async () => {
    const r = registry('root');
    await r.create({ name: 'one', subnet: '10.200.0.0/16' });
    await expect(r.create({ name: 'one' })).rejects.toThrow(/already exists/);
    await expect(r.create({ name: 'two', subnet: '10.200.3.0/24' })).rejects.toThrow(/overlaps network one/);
    await expect(r.create({ name: 'two', subnet: '10.88.1.0/24' })).rejects.toThrow(/overlaps an address or route/);
    await expect(r.create({ name: 'two', subnet: '10.201.0.0/24', gateway: '10.201.0.9' })).rejects.toThrow(/first address/);
    await expect(r.create({ name: 'two', driver: 'macvlan' })).rejects.toThrow(/macvlan/);
    expect((await r.create({ name: 'two', subnet: '10.201.0.0/24', gateway: '10.201.0.1' })).gateway).toBe('10.201.0.1');
  });

  it('restores a root\'s networks after the host-wide records are gone, and removal by another root removes the copy', async () => {
    const a = registry('rootA');
    const one = await a.create({ name: 'one' });
    rmSync(join(base, 'host'), { recursive: true }); // a reboot empties /run
    expect(await registry('rootB').find('one')).toBeUndefined(); // rootB has no copy
    expect((await a.get('one')).id).toBe(one.id);
    expect((await registry('rootB').get('one')).id).toBe(one.id);
    await registry('rootB').remove(one);
    expect(existsSync(one.copy!)).toBe(false);
    await expect(a.get('one')).rejects.toThrow(NotFoundError);
  });

  it('leaves a copy dormant when its subnet was taken while it was gone', async () => {
    const a = registry('rootA');
    const one = await a.create({ name: 'one', subnet: '10.210.0.0/24' });
    rmSync(join(base, 'host'), { recursive: true });
    await registry('rootB').create({ name: 'other', subnet: '10.210.0.0/24' });
    expect(await a.find('one')).toBeUndefined();
    expect(existsSync(one.copy!)).toBe(true);
  });
});
