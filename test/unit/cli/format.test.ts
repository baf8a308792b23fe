import { describe, expect, it } from 'vitest';
import { dockerTimestamp, humanDuration, humanSize, timeAgo } from '../../../src/cli/format.js';

describe('humanSize (Docker SI units)', () => {
  it('formats like go-units HumanSizeWithPrecision', () => {
    expect(humanSize(0)).toBe('0B');
    expect(humanSize(999)).toBe('999B');
    expect(humanSize(1000)).toBe('1kB');
    expect(humanSize(4261033)).toBe('4.26MB');
    expect(humanSize(4261033, 4)).toBe('4.261MB');
    expect(humanSize(5_200_000)).toBe('5.2MB');
    expect(humanSize(77_800_000)).toBe('77.8MB');
    expect(humanSize(123_456_789_012)).toBe('123GB');
    expect(humanSize(1_500)).toBe('1.5kB');
  });
});

describe('humanDuration / timeAgo', () => {
  it('follows go-units HumanDuration', () => {
    expect(humanDuration(500)).toBe('Less than a second');
    expect(humanDuration(1000)).toBe('1 second');
    expect(humanDuration(59_000)).toBe('59 seconds');
    expect(humanDuration(90_000)).toBe('About a minute');
    expect(humanDuration(3 * 60_000)).toBe('3 minutes');
    expect(humanDuration(59 * 60_000)).toBe('59 minutes');
    expect(humanDuration(60 * 60_000)).toBe('About an hour');
    expect(humanDuration(5 * 3600_000)).toBe('5 hours');
    expect(humanDuration(3 * 86400_000)).toBe('3 days');
    expect(humanDuration(21 * 86400_000)).toBe('3 weeks');
    expect(humanDuration(90 * 86400_000)).toBe('3 months');
    expect(humanDuration(800 * 86400_000)).toBe('2 years');
  });
  it('renders relative and absolute timestamps', () => {
    const now = Date.parse('2024-05-01T10:03:00Z');
    expect(timeAgo('2024-05-01T10:00:00Z', now)).toBe('3 minutes ago');
    expect(timeAgo('garbage', now)).toBe('N/A');
    expect(dockerTimestamp('2024-05-01T10:00:00.123Z')).toBe('2024-05-01 10:00:00 +0000 UTC');
  });
});
