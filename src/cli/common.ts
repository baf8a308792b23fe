// Shared plumbing for the front ends: global options and error handling.
import { Command, CommanderError } from 'commander';
import { makeContext, type EngineContext } from '../engine/context.js';
import { EXIT_TSRUN, reportAndExit } from './exit.js';

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

/** Parse argv, mapping commander's usage errors to the front end's own exit code. */
export async function runProgram(program: Command, argv: string[], ownErrorCode = EXIT_TSRUN): Promise<void> {
  // Settings are copied to subcommands only when they are created: apply them to the whole tree.
  const all = (cmd: Command): Command[] => [cmd, ...cmd.commands.flatMap(all)];
  for (const cmd of all(program)) {
    cmd.exitOverride();
    cmd.configureOutput({ outputError: (str, write) => write(str) });
  }
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        process.exit(0);
      }
      process.exit(err.exitCode === 0 ? 0 : ownErrorCode);
    }
    reportAndExit(program.name(), err, ownErrorCode);
  }
}
