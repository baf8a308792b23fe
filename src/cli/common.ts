// Shared plumbing for the front ends: global options and error handling.
import { Command, CommanderError } from 'commander';
import { makeContext, type EngineContext } from '../engine/context.js';
import { EXIT_RKT, EXIT_TSRUN, reportAndExit } from './exit.js';
import { exitNowIfLoaded } from '../native/index.js';

/** Adds --root and --runroot, accepted on every command of a front end. */
export function addGlobalOptions(program: Command): Command {
  return program
    .option('--root <dir>', 'persistent state directory (env TSRUN_ROOT)', process.env.TSRUN_ROOT ?? '/var/lib/tsrun')
    .option('--runroot <dir>', 'runtime state directory (env TSRUN_RUNROOT)', process.env.TSRUN_RUNROOT ?? '/run/tsrun');
}

/** The engine context from the global options of the command's root program. */
export function contextOf(cmd: Command): EngineContext {
  let top: Command = cmd;
  while (top.parent) top = top.parent;
  const opts = top.opts<{ root?: string; runroot?: string }>();
  return makeContext(opts.root, opts.runroot);
}

/**
 * Wraps an action so any error goes through the single error reporter.
 * The action may return an exit code (e.g. the container's).
 */
export function action<A extends unknown[]>(
  prog: string,
  fn: (...args: A) => Promise<number | void> | number | void,
  ownErrorCode = EXIT_TSRUN,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await fn(...args);
      if (typeof code === 'number') process.exitCode = code;
    } catch (err) {
      reportAndExit(prog, err, ownErrorCode);
    }
  };
}

/**
 * How usage errors read: 'docker' is tsrun's one-line form ("tsrun: unknown flag: --foo",
 * then "See 'tsrun run --help'."), 'commander' is commander's own ("error: unknown option '--foo'").
 */
export type UsageErrorStyle = 'docker' | 'commander';

/**
 * Parse argv, mapping commander's usage errors to the front end's own exit code.
 * tsrkt (which passes EXIT_RKT) keeps commander's wording; tsrun gets Docker's.
 */
export async function runProgram(
  program: Command,
  argv: string[],
  ownErrorCode = EXIT_TSRUN,
  usageErrors: UsageErrorStyle = ownErrorCode === EXIT_RKT ? 'commander' : 'docker',
): Promise<void> {
  // The command that reported a usage error: its path goes into the message.
  let failed: Command = program;
  // Settings are copied to subcommands only when they are created: apply them to the whole tree.
  const all = (cmd: Command): Command[] => [cmd, ...cmd.commands.flatMap(all)];
  for (const cmd of all(program)) {
    cmd.exitOverride();
    cmd.configureOutput({
      outputError: (str, write) => {
        failed = cmd;
        // The Docker form is written once the error's code is known (below).
        if (usageErrors === 'commander') write(str);
      },
    });
  }
  try {
    await program.parseAsync(argv);
    leaveWithoutTeardown();
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        process.exit(0);
      }
      if (err.exitCode === 0) process.exit(0);
      if (usageErrors === 'docker') process.stderr.write(dockerUsageError(failed, err, argv));
      process.exit(ownErrorCode);
    }
    reportAndExit(program.name(), err, ownErrorCode);
  }
}

/**
 * Once the command is done, its process ends right after the 'exit' listeners (a terminal's
 * restore among them, registered while the command ran, so before this one), skipping Node's
 * teardown. Not under node flags (a --cpu-prof or a coverage run writes its data at teardown).
 */
function leaveWithoutTeardown(): void {
  if (process.execArgv.length > 0 || process.env.NODE_V8_COVERAGE) return;
  process.once('exit', (code) => exitNowIfLoaded(code));
}

/** "tsrun container ls": the names from the root program down to `cmd`. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The first 'quoted' word of a commander message: the flag, option or command it names. */
const quotedIn = (message: string): string => /'([^']*)'/.exec(message)?.[1] ?? '';

/**
 * A commander usage error worded as Docker's CLI words it, in tsrun's one-line form:
 * "tsrun: unknown flag: --foo" then "See 'tsrun run --help'.".
 */
function dockerUsageError(cmd: Command, err: CommanderError, argv: readonly string[]): string {
  let root: Command = cmd;
  while (root.parent) root = root.parent;
  const path = commandPath(cmd);
  const args = cmd.registeredArguments;
  const min = args.filter((a) => a.required).length;
  const max = args.some((a) => a.variadic) ? Infinity : args.length;
  let line: string;
  switch (err.code) {
    case 'commander.unknownOption': {
      const flag = quotedIn(err.message);
      line = flag.startsWith('--') ? `unknown flag: ${flag}` : `unknown shorthand flag: '${flag.slice(1, 2)}' in ${flag}`;
      break;
    }
    case 'commander.optionMissingArgument': {
      // Flags read like "-n, --tail <n>": name the spelling the user typed.
      const flags = quotedIn(err.message);
      const long = /--[^\s,|<[]+/.exec(flags)?.[0];
      const short = /(?:^|[\s,|])(-[^-\s,|<[])(?=$|[\s,|])/.exec(flags)?.[1];
      const typedShort = short !== undefined && (long === undefined || (argv.includes(short) && !argv.includes(long)));
      line = typedShort ? `flag needs an argument: '${short.slice(1)}' in ${short}` : `flag needs an argument: ${long}`;
      break;
    }
    case 'commander.missingArgument':
      line = `"${path}" requires ${min === max ? 'exactly' : 'at least'} ${plural(min, 'argument')}.`;
      break;
    case 'commander.excessArguments':
      line = min === max ? `"${path}" requires exactly ${plural(min, 'argument')}.` : `"${path}" accepts at most ${plural(max, 'argument')}.`;
      break;
    case 'commander.unknownCommand':
      line = `'${quotedIn(err.message)}' is not a ${path} command.`;
      break;
    default:
      line = err.message.replace(/^error: /, '').split('\n')[0]!;
  }
  return `${root.name()}: ${line}\nSee '${path} --help'.\n`;
}
