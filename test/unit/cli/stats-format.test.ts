// How `tsrun stats` prints numbers: binary sizes for memory (go-units BytesSize), SI for I/O.
import { describe, expect, it } from 'vitest';
import { bytesSize } from '../../../src/cli/format.js';
import { statsCells } from '../../../src/cli/docker/commands/stats.js';

describe('bytesSize (go-units BytesSize)', () => {
  it('uses 1024 steps and 4 significant digits', () => {
    expect(bytesSize(0)).toBe('0B');
    expect(bytesSize(1023)).toBe('1023B');
    expect(bytesSize(1024)).toBe('1KiB');
    expect(bytesSize(1597440)).toBe('1.523MiB');
    expect(bytesSize(64 * 1024 * 1024)).toBe('64MiB');
    expect(bytesSize(25_276_358_656)).toBe('23.54GiB');
  });
});

describe('stats cells', () => {
  it('formats a row like docker stats', () => {
    const c = statsCells(
      { id: 'a'.repeat(64), name: 'web', running: true, cpuPercent: 12.345, memUsage: 1597440, memLimit: 64 << 20, memPercent: 2.38, netRx: 1500, netTx: 0, blockRead: 4_261_033, blockWrite: 0, pids: 3 },
      false,
    );
    expect(c).toEqual({
      ID: 'aaaaaaaaaaaa', Name: 'web', CPUPerc: '12.35%', MemUsage: '1.523MiB / 64MiB', MemPerc: '2.38%',
      NetIO: '1.5kB / 0B', BlockIO: '4.26MB / 0B', PIDs: '3',
    });
  });
});
