import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NetworkError, UsageError } from '../../../src/errors.js';
import { formatIPv4, Ipam, parseIPv4, parseSubnet, subnetContains, subnetsOverlap } from '../../../src/network/ipam.js';
import { buildDir } from '../../../src/util/paths.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsrun-ipam-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('parseSubnet', () => {
  it('parses CIDR and derives gateway and host range', () => {
    const s = parseSubnet('10.88.0.0/16');
    expect(s.cidr).toBe('10.88.0.0/16');
    expect(s.gateway).toBe('10.88.0.1');
    expect(formatIPv4(s.firstHost)).toBe('10.88.0.2');
    expect(formatIPv4(s.lastHost)).toBe('10.88.255.254');
    expect(parseSubnet('192.168.7.0/30').gateway).toBe('192.168.7.1');
  });

  it('refuses malformed subnets with the reason', () => {
    expect(() => parseSubnet('10.88.0.1/16')).toThrow(/host bits are set.*10\.88\.0\.0\/16/);
    expect(() => parseSubnet('10.88.0.0')).toThrow(UsageError);
    expect(() => parseSubnet('10.88.0.0/31')).toThrow(/prefix length/);
    expect(() => parseSubnet('10.88.0.0/4')).toThrow(/prefix length/);
    expect(() => parseSubnet('10.256.0.0/16')).toThrow(/out of range/);
    expect(() => parseSubnet('fd00::/64')).toThrow(UsageError);
  });

  it('round-trips addresses and tests containment and overlap', () => {
    expect(formatIPv4(parseIPv4('255.255.255.255'))).toBe('255.255.255.255');
    expect(parseIPv4('0.0.0.1')).toBe(1);
    expect(() => parseIPv4('01.2.3.4')).toThrow(UsageError);
    const s = parseSubnet('10.231.0.0/24');
    expect(subnetContains(s, '10.231.0.200')).toBe(true);
    expect(subnetContains(s, '10.231.1.1')).toBe(false);
    expect(subnetsOverlap(s, parseSubnet('10.0.0.0/8'))).toBe(true);
    expect(subnetsOverlap(parseSubnet('10.0.0.0/8'), s)).toBe(true);
    expect(subnetsOverlap(s, parseSubnet('10.231.1.0/24'))).toBe(false);
  });
});

describe('Ipam', () => {
  it('allocates after the gateway, is idempotent per owner, releases', async () => {
    const ipam = new Ipam(dir, '10.231.0.0/24');
    const a = await ipam.allocate('a');
    expect(a.ip).toBe('10.231.0.2');
    expect((await ipam.allocate('a')).ip).toBe('10.231.0.2');
    const b = await ipam.allocate('b');
    expect(b.ip).toBe('10.231.0.3');
    expect(await ipam.release('a')).toBe(true);
    expect(await ipam.release('a')).toBe(false);
    // the released address is not reused at once
    expect((await ipam.allocate('c')).ip).toBe('10.231.0.4');
    expect(ipam.leases().map((l) => l.owner).sort()).toEqual(['b', 'c']);
    expect(new Ipam(dir, '10.231.0.0/24').leaseOf('b')?.ip).toBe('10.231.0.3');
  });

  it('honours a requested address and refuses a taken or foreign one', async () => {
    const ipam = new Ipam(dir, '10.231.0.0/24');
    expect((await ipam.allocate('a', '10.231.0.50')).ip).toBe('10.231.0.50');
    await expect(ipam.allocate('b', '10.231.0.50')).rejects.toThrow(/already in use by a/);
    await expect(ipam.allocate('b', '10.231.0.1')).rejects.toThrow(/not a usable address/);
    await expect(ipam.allocate('b', '10.9.0.5')).rejects.toThrow(UsageError);
  });

  it('reports exhaustion and wraps around to freed addresses', async () => {
    const ipam = new Ipam(dir, '10.231.0.0/30'); // only .2 is usable
    expect((await ipam.allocate('a')).ip).toBe('10.231.0.2');
    await expect(ipam.allocate('b')).rejects.toThrow(NetworkError);
    await expect(ipam.allocate('b')).rejects.toThrow(/no free address left in subnet 10\.231\.0\.0\/30/);
    await ipam.release('a');
    expect((await ipam.allocate('b')).ip).toBe('10.231.0.2');
  });

  it('refuses to reinterpret leases of another subnet', async () => {
    await new Ipam(dir, '10.231.0.0/24').allocate('a');
    await expect(new Ipam(dir, '10.232.0.0/24').allocate('b')).rejects.toThrow(/belongs to subnet 10\.231\.0\.0\/24/);
    await new Ipam(dir, '10.231.0.0/24').release('a');
    expect((await new Ipam(dir, '10.232.0.0/24').allocate('b')).ip).toBe('10.232.0.2');
  });

  it('releaseWhere drops matching leases', async () => {
    const ipam = new Ipam(dir, '10.231.0.0/24');
    for (const o of ['x1', 'x2', 'y1']) await ipam.allocate(o);
    const dropped = await ipam.releaseWhere((l) => l.owner.startsWith('x'));
    expect(dropped.map((l) => l.owner).sort()).toEqual(['x1', 'x2']);
    expect(ipam.leases().map((l) => l.owner)).toEqual(['y1']);
  });

  it('50 concurrent allocations in one process get 50 distinct addresses', async () => {
    // Separate Ipam objects open separate lock descriptors, so flock really arbitrates.
    const leases = await Promise.all(Array.from({ length: 50 }, (_, i) => new Ipam(dir, '10.231.0.0/24').allocate(`c${i}`)));
    expect(new Set(leases.map((l) => l.ip)).size).toBe(50);
    expect(new Ipam(dir, '10.231.0.0/24').leases()).toHaveLength(50);
  });

  it('50 allocations from 10 concurrent processes get 50 distinct addresses', async () => {
    const bundle = join(dir, 'ipam-worker.mjs');
    const entry = join(dir, 'worker-entry.ts');
    writeFileSync(
      entry,
      `import { Ipam } from ${JSON.stringify(resolve(__dirname, '../../../src/network/ipam.ts'))};
       const [d, prefix] = process.argv.slice(2);
       const out = await Promise.all([0,1,2,3,4].map((i) => new Ipam(d, '10.231.0.0/24').allocate(prefix + '-' + i)));
       process.stdout.write(JSON.stringify(out.map((l) => l.ip)));`,
    );
    await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile: bundle, logLevel: 'silent' });
    const run = promisify(execFile);
    const leaseDir = join(dir, 'leases');
    const outs = await Promise.all(
      Array.from({ length: 10 }, (_, p) => run(process.execPath, [bundle, leaseDir, `p${p}`], { env: { ...process.env, TSRUN_BUILD_DIR: buildDir() } })),
    );
    const ips = outs.flatMap((o) => JSON.parse(o.stdout) as string[]);
    expect(ips).toHaveLength(50);
    expect(new Set(ips).size).toBe(50);
    const recorded = new Ipam(leaseDir, '10.231.0.0/24').leases();
    expect(recorded).toHaveLength(50);
    expect(new Set(recorded.map((l) => l.ip))).toEqual(new Set(ips));
  });
});
