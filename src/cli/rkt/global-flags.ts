// tsrkt's global flags: --root and --runroot before the verb, and rkt's
// persistent --insecure-options, which rkt takes before the verb and after it.
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { INSECURE_OPTION_VALUES, parseInsecureOptions, type InsecureOptions } from '../../engine/rkt/insecure-options.js';

export const INSECURE_FLAG = '--insecure-options';

export interface GlobalFlags {
  root?: string;
  runroot?: string;
  /** Each --insecure-options value as given ("image,tls"), in order; parsed by parseInsecureOptions. */
  insecure: string[];
  /** The verb and its arguments. */
  rest: string[];
}

/** `verb --help` (or -h) alone: commander prints the verb's help, whatever its grammar. */
export function asksVerbHelp(rest: readonly string[]): boolean {
  return rest.length === 2 && (rest[1] === '--help' || rest[1] === '-h');
}

/** Splits the leading global options (--root, --runroot, --insecure-options) from the verb and its arguments. */
export function splitGlobalOptions(argv: readonly string[]): GlobalFlags {
  const out: GlobalFlags = { insecure: [], rest: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const m = /^--(root|runroot|insecure-options)(?:=(.*))?$/.exec(argv[i]!);
    if (!m) break;
    const value = m[2] ?? argv[++i];
    if (value === undefined) break; // commander reports the missing value
    if (m[1] === 'insecure-options') out.insecure.push(value);
    else out[m[1] as 'root' | 'runroot'] = value;
  }
  out.rest = argv.slice(i);
  return out;
}

/**
 * For the verbs commander parses: every --insecure-options after the verb (up to a
 * `--`) is moved in front of it, where the root program takes it, so the flag works
 * in both places as rkt's persistent flags do.
 */
export function hoistInsecureOptions(args: readonly string[]): string[] {
  const hoisted: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      rest.push(...args.slice(i));
      break;
    }
    if (a === INSECURE_FLAG) {
      const value = args[i + 1];
      if (value === undefined || value === '--') throw new UsageError(`flag ${INSECURE_FLAG} needs a value`);
      hoisted.push(`${INSECURE_FLAG}=${value}`);
      i++;
    } else if (a.startsWith(`${INSECURE_FLAG}=`)) hoisted.push(a);
    else rest.push(a);
  }
  return [...hoisted, ...rest];
}

/** The root program's --insecure-options: checked as it is parsed (before any verb runs), values adding up. */
export function addInsecureOption(program: Command): Command {
  return program.option(
    `${INSECURE_FLAG} <list>`,
    `skip security checks, comma-separated and repeatable: ${INSECURE_OPTION_VALUES.join(', ')}. ` +
      'image, pubkey and ondisk change nothing (tsrun verifies no image signatures); ' +
      'tls: no certificate checks and http: plain HTTP allowed, for this command\'s registries; ' +
      'capabilities: all capabilities, paths: no masked or read-only /proc and /sys paths, seccomp: no seccomp filter, for the apps of run and prepare',
    (value: string, previous: string[] | undefined) => {
      parseInsecureOptions([value]); // refuses a bad value now
      return [...(previous ?? []), value];
    },
  );
}

/** What the root program's --insecure-options add up to. */
export function insecureOptionsOf(cmd: Command): InsecureOptions {
  let top: Command = cmd;
  while (top.parent) top = top.parent;
  return parseInsecureOptions(top.opts<{ insecureOptions?: string[] }>().insecureOptions ?? []);
}
