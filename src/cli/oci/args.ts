// A small parser for runc-style flags: "--name value", "--name=value",
// "-n value", single-dash long names ("-bundle"), booleans, and repeatable
// options. Kept tiny so tsrun-oci starts fast (no CLI framework to load).
import { UsageError } from '../../errors.js';

export interface OptionSpec {
  /** Takes a value (else a boolean switch). */
  value?: boolean;
  /** May be given several times (values collected in order). */
  repeat?: boolean;
  aliases?: string[];
}

export type OptionSpecs = Record<string, OptionSpec>;

export interface Parsed {
  opts: Record<string, string | boolean | string[] | undefined>;
  positional: string[];
}

/**
 * Parses args against specs. With stopAtPositional, everything from the
 * first positional on is positional (exec's command line).
 */
export function parseArgs(args: string[], specs: OptionSpecs, what: string, stopAtPositional = false): Parsed {
  const byName = new Map<string, [string, OptionSpec]>();
  for (const [name, spec] of Object.entries(specs)) {
    byName.set(name, [name, spec]);
    for (const a of spec.aliases ?? []) byName.set(a, [name, spec]);
  }
  const opts: Parsed['opts'] = {};
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      if (stopAtPositional) {
        positional.push(...args.slice(i + 1));
        break;
      }
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const key = eq >= 0 ? body.slice(0, eq) : body;
    const found = byName.get(key);
    if (!found) throw new UsageError(`${what}: unknown option ${arg}`);
    const [name, spec] = found;
    let value: string | boolean;
    if (spec.value) {
      if (eq >= 0) value = body.slice(eq + 1);
      else {
        if (i + 1 >= args.length) throw new UsageError(`${what}: option ${arg} needs a value`);
        value = args[++i]!;
      }
    } else {
      value = eq >= 0 ? !['false', '0'].includes(body.slice(eq + 1)) : true;
    }
    if (spec.repeat) opts[name] = [...((opts[name] as string[] | undefined) ?? []), String(value)];
    else opts[name] = value;
  }
  return { opts, positional };
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.opts[name];
  return typeof v === 'string' ? v : undefined;
}

export function flag(p: Parsed, name: string): boolean {
  return p.opts[name] === true;
}

export function list(p: Parsed, name: string): string[] {
  const v = p.opts[name];
  return Array.isArray(v) ? v : [];
}

export function int(p: Parsed, name: string, what: string): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw new UsageError(`${what}: --${name} must be an integer, not "${v}"`);
  return Number(v);
}

/** Exactly one container id, else a usage error naming the command. */
export function containerId(p: Parsed, what: string, max = 1): string {
  if (p.positional.length < 1) throw new UsageError(`${what}: a container id is required`);
  if (p.positional.length > max) throw new UsageError(`${what}: too many arguments: ${p.positional.join(' ')}`);
  return p.positional[0]!;
}
