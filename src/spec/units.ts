// Parsers for the scalar values of Docker flags: sizes, integers, CPU counts,
// CPU lists and signals. Every error names the flag and the value.
import { constants } from 'node:os';
import { UsageError } from '../errors.js';

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/**
 * A size the way Docker's -m/--shm-size read it (go-units RAMInBytes): a
 * number, optional unit b/k/m/g/t/p in either case, optional "i" and "b",
 * binary multiples ("512m" = 512 MiB). Fractions are allowed ("1.5g").
 */
export function parseBytes(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(value.trim());
  if (!m) {
    throw new UsageError(`invalid value "${value}" for ${flag}: not a size (a number with an optional unit b, k, m, g, t)`);
  }
  const bytes = Math.floor(Number(m[1]) * SIZE_UNITS[(m[2] ?? '').toLowerCase()]!);
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`invalid value "${value}" for ${flag}: size too large`);
  return bytes;
}

/** A decimal integer (optionally negative), with bounds. */
export function parseInteger(value: string | number, flag: string, min = -Infinity, max = Infinity): number {
  const text = String(value).trim();
  if (!/^-?\d+$/.test(text)) throw new UsageError(`invalid value "${value}" for ${flag}: not an integer`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new UsageError(`invalid value "${value}" for ${flag}: integer out of range`);
  if (n < min || n > max) {
    const range = max === Infinity ? `at least ${min}` : min === -Infinity ? `at most ${max}` : `between ${min} and ${max}`;
    throw new UsageError(`invalid value "${value}" for ${flag}: must be ${range}`);
  }
  return n;
}

/** --cpus: a positive decimal with at most 9 fractional digits, returned as nano-CPUs (Docker's NanoCPUs). */
export function parseNanoCpus(value: string | number, flag = '--cpus'): number {
  const text = String(value).trim();
  if (!/^\d+(?:\.\d+)?$|^\.\d+$/.test(text)) throw new UsageError(`invalid value "${value}" for ${flag}: not a number of CPUs`);
  const nano = Math.round(Number(text) * 1e9);
  if (nano <= 0) throw new UsageError(`invalid value "${value}" for ${flag}: the number of CPUs must be greater than 0`);
  return nano;
}

/** A cpuset list such as "0-3,5" (for --cpuset-cpus and --cpuset-mems), returned normalised (no spaces). */
export function parseCpuList(value: string, flag: string): string {
  const text = value.replace(/\s+/g, '');
  const parts = text.split(',');
  for (const part of parts) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m || (m[2] !== undefined && Number(m[2]) < Number(m[1]))) {
      throw new UsageError(`invalid value "${value}" for ${flag}: expected a list like 0-3,5`);
    }
  }
  return text;
}

/** Signal names Node knows for this platform, e.g. SIGTERM -> 15 (asked when needed: node:os loads on first use). */
const signals = (): Record<string, number> => constants.signals as Record<string, number>;

/**
 * A signal given as a name ("TERM", "SIGTERM", "sigterm") or number ("15"),
 * returned as its canonical name ("SIGTERM"); unnamed real-time numbers
 * stay numbers in the string form ("40").
 */
export function parseSignal(value: string, flag = '--stop-signal'): string {
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n < 1 || n > 64) throw new UsageError(`invalid value "${value}" for ${flag}: signal number must be between 1 and 64`);
    const all = signals();
    const name = Object.keys(all).find((k) => all[k] === n && k !== 'SIGIOT' && k !== 'SIGPOLL');
    return name ?? String(n);
  }
  const upper = text.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  if (!(name in signals())) throw new UsageError(`invalid value "${value}" for ${flag}: unknown signal`);
  return name;
}

/** The number of a canonical signal name from parseSignal. */
export function signalNumber(name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  const n = signals()[name];
  if (n === undefined) throw new UsageError(`unknown signal "${name}"`);
  return n;
}

/** Accepts commander's values for boolean-ish options: true, "true", "1", "false", "0". */
export function parseBool(value: unknown, flag: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  const text = String(value).trim().toLowerCase();
  if (text === '' || text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw new UsageError(`invalid value "${String(value)}" for ${flag}: expected true or false`);
}
