// Signal names and numbers as users type them: "SIGTERM", "TERM", "term" or "15".
import { constants } from 'node:os';
import { UsageError } from '../errors.js';

// Read on use, not at load: node:os is loaded lazily in the bundle (hack/lazy-builtins.mjs).
const byName = (): Record<string, number> => constants.signals as Record<string, number>;

export function parseSignal(input: string | number): number {
  if (typeof input === 'number') return checkNumber(input, String(input));
  const s = input.trim().toUpperCase();
  if (/^\d+$/.test(s)) return checkNumber(Number(s), input);
  const rt = /^(?:SIG)?RTMIN(?:\+(\d+))?$/.exec(s);
  if (rt) return 34 + Number(rt[1] ?? 0);
  const n = byName()[s.startsWith('SIG') ? s : `SIG${s}`];
  if (n === undefined) throw new UsageError(`invalid signal: ${input}`);
  return n;
}

function checkNumber(n: number, input: string): number {
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError(`invalid signal: ${input}`);
  return n;
}

export function signalName(n: number): string {
  for (const [name, num] of Object.entries(byName())) if (num === n && name !== 'SIGIOT' && name !== 'SIGPOLL') return name;
  return `SIG${n}`;
}
