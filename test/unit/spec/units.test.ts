import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { parseBool, parseBytes, parseCpuList, parseInteger, parseNanoCpus, parseSignal, signalNumber } from '../../../src/spec/units.js';

describe('parseBytes (Docker RAMInBytes)', () => {
  it.each([
    ['10', 10],
    ['10b', 10],
    ['1k', 1024],
    ['1K', 1024],
    ['1kb', 1024],
    ['1KiB', 1024],
    ['512m', 512 * 1024 ** 2],
    ['512M', 512 * 1024 ** 2],
    ['1g', 1024 ** 3],
    ['1.5g', 1.5 * 1024 ** 3],
    ['2 m', 2 * 1024 ** 2],
    ['1t', 1024 ** 4],
  ])('%s -> %d', (text, bytes) => {
    expect(parseBytes(text, '--memory')).toBe(bytes);
  });

  it.each(['', 'abc', '-1', '1x', '1mm', '1.2.3m', 'm'])('rejects %j naming the flag and value', (text) => {
    expect(() => parseBytes(text, '--memory')).toThrow(UsageError);
    expect(() => parseBytes(text, '--memory')).toThrow(`"${text}" for --memory`);
  });
});

describe('parseInteger', () => {
  it('parses and bounds', () => {
    expect(parseInteger('42', '--x')).toBe(42);
    expect(parseInteger(-1, '--x', -1)).toBe(-1);
    expect(() => parseInteger('1.5', '--x')).toThrow('not an integer');
    expect(() => parseInteger('5', '--x', 10, 20)).toThrow('between 10 and 20');
    expect(() => parseInteger('-2', '--x', -1)).toThrow('at least -1');
  });
});

describe('parseNanoCpus', () => {
  it('turns fractional CPUs into nano-CPUs', () => {
    expect(parseNanoCpus('1.5')).toBe(1_500_000_000);
    expect(parseNanoCpus('0.01')).toBe(10_000_000);
    expect(parseNanoCpus('2')).toBe(2_000_000_000);
    expect(parseNanoCpus('.5')).toBe(500_000_000);
  });
  it('rejects zero, negatives and words', () => {
    expect(() => parseNanoCpus('0')).toThrow('greater than 0');
    expect(() => parseNanoCpus('-1')).toThrow(UsageError);
    expect(() => parseNanoCpus('two')).toThrow('"two" for --cpus');
  });
});

describe('parseCpuList', () => {
  it('accepts lists and ranges', () => {
    expect(parseCpuList('0-3,5', '--cpuset-cpus')).toBe('0-3,5');
    expect(parseCpuList('0, 1', '--cpuset-cpus')).toBe('0,1');
  });
  it.each(['a', '3-1', '1,,2', '-1'])('rejects %j', (v) => {
    expect(() => parseCpuList(v, '--cpuset-cpus')).toThrow('--cpuset-cpus');
  });
});

describe('parseSignal', () => {
  it('canonicalises names and numbers', () => {
    expect(parseSignal('TERM')).toBe('SIGTERM');
    expect(parseSignal('sigkill')).toBe('SIGKILL');
    expect(parseSignal('SIGUSR1')).toBe('SIGUSR1');
    expect(parseSignal('9')).toBe('SIGKILL');
    expect(parseSignal('15')).toBe('SIGTERM');
    expect(signalNumber('SIGHUP')).toBe(1);
  });
  it('rejects unknown signals', () => {
    expect(() => parseSignal('SIGFOO')).toThrow('"SIGFOO" for --stop-signal');
    expect(() => parseSignal('0')).toThrow('between 1 and 64');
    expect(() => parseSignal('65')).toThrow(UsageError);
  });
});

describe('parseBool', () => {
  it('reads commander values', () => {
    expect(parseBool(undefined, '--x')).toBe(false);
    expect(parseBool(true, '--x')).toBe(true);
    expect(parseBool('false', '--x')).toBe(false);
    expect(parseBool('1', '--x')).toBe(true);
    expect(() => parseBool('maybe', '--x')).toThrow('"maybe" for --x');
  });
});
