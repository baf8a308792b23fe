import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRestartPolicy, restartDelay, shouldRestart } from '../../../src/engine/restart.js';
import { readLogs } from '../../../src/engine/logs.js';
import { parseTimestampFlag } from '../../../src/engine/timestamps.js';
import { parseSignal, signalName } from '../../../src/util/signals.js';

describe('restart policies', () => {
  it('parses Docker policies and rejects bad ones', () => {
    expect(parseRestartPolicy(undefined)).toEqual({ name: 'no', maximumRetryCount: 0 });
    expect(parseRestartPolicy('on-failure:3')).toEqual({ name: 'on-failure', maximumRetryCount: 3 });
    expect(parseRestartPolicy('always').name).toBe('always');
    expect(() => parseRestartPolicy('always:3')).toThrow(/only be used with on-failure/);
    expect(() => parseRestartPolicy('sometimes')).toThrow(/invalid restart policy "sometimes"/);
  });

  it('decides like Docker', () => {
    const onFailure = parseRestartPolicy('on-failure:2');
    expect(shouldRestart(onFailure, 1, 0, false)).toBe(true);
    expect(shouldRestart(onFailure, 1, 2, false)).toBe(false);
    expect(shouldRestart(onFailure, 0, 0, false)).toBe(false);
    expect(shouldRestart(parseRestartPolicy('always'), 0, 100, false)).toBe(true);
    expect(shouldRestart(parseRestartPolicy('always'), 0, 0, true)).toBe(false);
    expect(shouldRestart(parseRestartPolicy('no'), 1, 0, false)).toBe(false);
  });

  it('backs off from 100 ms doubling to a minute, reset after 10 s up', () => {
    expect(restartDelay(0, 50)).toEqual({ delayMs: 100, quickRestarts: 1 });
    expect(restartDelay(3, 50)).toEqual({ delayMs: 800, quickRestarts: 4 });
    expect(restartDelay(20, 50).delayMs).toBe(60_000);
    expect(restartDelay(20, 10_000)).toEqual({ delayMs: 100, quickRestarts: 0 });
  });
});

describe('signals', () => {
  it('accepts names with or without SIG and numbers', () => {
    expect(parseSignal('SIGTERM')).toBe(15);
    expect(parseSignal('kill')).toBe(9);
    expect(parseSignal('2')).toBe(2);
    expect(signalName(9)).toBe('SIGKILL');
    expect(() => parseSignal('SIGNOPE')).toThrow(/invalid signal: SIGNOPE/);
    expect(() => parseSignal('99')).toThrow(/invalid signal/);
  });
});

describe('logs', () => {
  const line = (log: string, stream: 'stdout' | 'stderr', time: string) => JSON.stringify({ log, stream, time }) + '\n';

  it('reads, tails and filters by time; skips a torn last line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsrun-logs-'));
    const p = join(dir, 'c.log');
    writeFileSync(p, line('a\n', 'stdout', '2026-01-01T00:00:00Z') + line('b\n', 'stderr', '2026-01-01T00:00:10Z') + line('c\n', 'stdout', '2026-01-01T00:00:20Z') + '{"log":"tor');
    const all: string[] = [];
    for await (const e of readLogs(p)) all.push(e.log);
    expect(all).toEqual(['a\n', 'b\n', 'c\n']);
    const tail: string[] = [];
    for await (const e of readLogs(p, { tail: 1 })) tail.push(e.log);
    expect(tail).toEqual(['c\n']);
    const since: string[] = [];
    for await (const e of readLogs(p, { since: '2026-01-01T00:00:05Z' })) since.push(e.log);
    expect(since).toEqual(['b\n', 'c\n']);
  });

  it('follows until the container stops, without losing the last lines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsrun-logs-'));
    const p = join(dir, 'c.log');
    writeFileSync(p, line('1\n', 'stdout', new Date().toISOString()));
    let running = true;
    setTimeout(() => {
      appendFileSync(p, line('2\n', 'stdout', new Date().toISOString()));
      running = false;
    }, 150);
    const got: string[] = [];
    for await (const e of readLogs(p, { follow: true, isRunning: () => running, pollMs: 20 })) got.push(e.log);
    expect(got).toEqual(['1\n', '2\n']);
  });

  it('parses time bounds', () => {
    expect(parseTimestampFlag('1700000000')).toBe(1_700_000_000_000);
    expect(parseTimestampFlag('10m', 1_000_000)).toBe(1_000_000 - 600_000);
    expect(() => parseTimestampFlag('yesterday')).toThrow(/invalid time "yesterday"/);
  });
});
