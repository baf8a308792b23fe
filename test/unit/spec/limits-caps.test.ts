import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { capabilitiesFromMask, computeCapabilities, readBoundingCapabilities } from '../../../src/spec/capabilities.js';
import { ALL_CAPABILITIES, DEFAULT_CAPABILITIES } from '../../../src/spec/defaults.js';
import { listHostDevices, splitDev } from '../../../src/spec/host.js';
import { buildRlimits, parseProcLimits, readProcessLimits, RLIMIT_UNLIMITED } from '../../../src/spec/rlimits.js';

const PROC_LIMITS = `Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max stack size            8388608              unlimited            bytes     
Max core file size        0                    unlimited            bytes     
Max processes             96365                96365                processes 
Max open files            20000                20000                files     
Max nice priority         0                    0                    
`;

describe('parseProcLimits', () => {
  it('reads soft and hard by Docker name, unlimited as Infinity', () => {
    expect(parseProcLimits(PROC_LIMITS)).toEqual({
      cpu: { soft: Infinity, hard: Infinity },
      stack: { soft: 8388608, hard: Infinity },
      core: { soft: 0, hard: Infinity },
      nproc: { soft: 96365, hard: 96365 },
      nofile: { soft: 20000, hard: 20000 },
      nice: { soft: 0, hard: 0 },
    });
  });
  it('reads this process', () => {
    const mine = readProcessLimits();
    expect(mine.nofile).toBeDefined();
    expect(mine.nofile!.soft).toBeLessThanOrEqual(mine.nofile!.hard);
  });
});

describe('buildRlimits', () => {
  const caller = parseProcLimits(PROC_LIMITS);

  it('passes limits within the caller hard limit through', () => {
    const warnings: string[] = [];
    expect(buildRlimits([{ name: 'nofile', soft: 1024, hard: 4096 }], caller, (w) => warnings.push(w))).toEqual([
      { type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 },
    ]);
    expect(warnings).toEqual([]);
  });

  it('clamps a hard limit above the caller hard limit, and the soft with it, warning', () => {
    const warnings: string[] = [];
    expect(buildRlimits([{ name: 'nofile', soft: 65536, hard: 65536 }], caller, (w) => warnings.push(w))).toEqual([
      { type: 'RLIMIT_NOFILE', soft: 20000, hard: 20000 },
    ]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('--ulimit nofile: hard limit 65536 is above this process\'s hard limit 20000');
    expect(buildRlimits([{ name: 'nofile', soft: 100, hard: 65536 }], caller, () => {})).toEqual([{ type: 'RLIMIT_NOFILE', soft: 100, hard: 20000 }]);
    expect(buildRlimits([{ name: 'nproc', soft: -1, hard: -1 }], caller, () => {})).toEqual([{ type: 'RLIMIT_NPROC', soft: 96365, hard: 96365 }]);
  });

  it('writes unlimited as the largest safe integer, or inherits when the caller is unlimited too', () => {
    expect(buildRlimits([{ name: 'core', soft: -1, hard: -1 }], caller, () => {})).toEqual([{ type: 'RLIMIT_CORE', soft: RLIMIT_UNLIMITED, hard: RLIMIT_UNLIMITED }]);
    expect(buildRlimits([{ name: 'cpu', soft: -1, hard: -1 }], caller, () => {})).toEqual([]);
    expect(buildRlimits([{ name: 'core', soft: 0, hard: -1 }], {}, () => {})).toEqual([{ type: 'RLIMIT_CORE', soft: 0, hard: RLIMIT_UNLIMITED }]);
  });

  it('does not clamp when the caller limits are unknown', () => {
    expect(buildRlimits([{ name: 'nofile', soft: 1e6, hard: 1e6 }], {}, () => {})).toEqual([{ type: 'RLIMIT_NOFILE', soft: 1e6, hard: 1e6 }]);
  });
});

describe('computeCapabilities', () => {
  it('defaults are Docker\'s 14', () => {
    expect(DEFAULT_CAPABILITIES).toHaveLength(14);
    expect(computeCapabilities({}, undefined)).toEqual(DEFAULT_CAPABILITIES);
  });
  it('add and drop', () => {
    const caps = computeCapabilities({ capAdd: ['CAP_NET_ADMIN'], capDrop: ['CAP_CHOWN', 'CAP_KILL'] }, undefined);
    expect(caps).not.toContain('CAP_CHOWN');
    expect(caps).not.toContain('CAP_KILL');
    expect(caps[caps.length - 1]).toBe('CAP_NET_ADMIN');
    expect(caps).toHaveLength(13);
  });
  it('--cap-add ALL minus drops; --cap-drop ALL plus adds; privileged gets everything', () => {
    const all = computeCapabilities({ capAdd: ['ALL'], capDrop: ['CAP_SYS_ADMIN'] }, undefined);
    expect(all).toHaveLength(ALL_CAPABILITIES.length - 1);
    expect(all).not.toContain('CAP_SYS_ADMIN');
    expect(computeCapabilities({ capAdd: ['CAP_CHOWN'], capDrop: ['ALL'] }, undefined)).toEqual(['CAP_CHOWN']);
    expect(computeCapabilities({ capDrop: ['ALL'] }, undefined)).toEqual([]);
    expect(computeCapabilities({ privileged: true, capDrop: ['ALL'] }, undefined)).toEqual([...ALL_CAPABILITIES]);
  });
  it('only grants what the caller holds, warning about explicit additions it cannot grant', () => {
    const available = ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE');
    const warnings: string[] = [];
    const caps = computeCapabilities({ privileged: true }, available, (w) => warnings.push(w));
    expect(caps).toHaveLength(ALL_CAPABILITIES.length - 1);
    expect(caps).not.toContain('CAP_SYS_RESOURCE');
    expect(warnings).toEqual([]);
    computeCapabilities({ capAdd: ['CAP_SYS_RESOURCE'] }, available, (w) => warnings.push(w));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('CAP_SYS_RESOURCE not granted');
  });
  it('decodes capability masks (this host: all but CAP_SYS_RESOURCE)', () => {
    const caps = capabilitiesFromMask('1fffeffffff');
    expect(caps).toHaveLength(40);
    expect(caps).not.toContain('CAP_SYS_RESOURCE');
    expect(capabilitiesFromMask('0')).toEqual([]);
    expect(capabilitiesFromMask('1')).toEqual(['CAP_CHOWN']);
    expect(readBoundingCapabilities()).toContain('CAP_CHOWN');
  });
});

describe('host devices', () => {
  let tmp: string | undefined;
  afterEach(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    tmp = undefined;
  });
  it('splits dev_t like glibc', () => {
    expect(splitDev(0x0103n)).toEqual({ major: 1, minor: 3 });
    expect(splitDev(0x8800n)).toEqual({ major: 136, minor: 0 });
    // major 259, minor 65536 + 5 (large numbers use the high bits)
    const dev = (259n & 0xfffn) << 8n | ((259n & ~0xfffn) << 32n) | (65541n & 0xffn) | ((65541n & ~0xffn) << 12n);
    expect(splitDev(dev)).toEqual({ major: 259, minor: 65541 });
  });
  it('lists device nodes under a /dev directory, skipping pts/shm and /dev/console', () => {
    const devs = listHostDevices('/dev');
    const nullDev = devs.find((d) => d.path === '/dev/null');
    expect(nullDev).toMatchObject({ type: 'c', major: 1, minor: 3 });
    expect(devs.some((d) => d.path.startsWith('/dev/pts/'))).toBe(false);
    expect(devs.some((d) => d.path === '/dev/console')).toBe(false);
    tmp = mkdtempSync(join(tmpdir(), 'tsrun-dev-'));
    writeFileSync(join(tmp, 'regular'), '');
    expect(listHostDevices(tmp)).toEqual([]);
  });
});
