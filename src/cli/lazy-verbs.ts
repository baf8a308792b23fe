// Registering every command of a CLI with all its options costs about 5 ms of each
// start: commander builds an Option per flag and checks each one against the others.
// A command line runs one verb, so only that verb is registered for real; the others
// are handed a stand-in that ignores what is done to it. Help, no verb, or a verb that
// nothing registered (an alias, a typo) register everything, so commander's listings,
// errors and suggestions stay as they were.
import type { Command } from 'commander';

/** The first argument of `args` (argv without node and the script) after the global options and their values. */
function firstArgument(args: readonly string[], optionsWithValue: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (optionsWithValue.includes(a)) {
      i++;
      continue;
    }
    if (optionsWithValue.some((o) => a.startsWith(`${o}=`))) continue;
    return a;
  }
  return undefined;
}

/**
 * The first word of `args` after the global options, or undefined when an option commander
 * has to judge (--help, --version, unknown) comes first.
 */
export function firstVerb(args: readonly string[], optionsWithValue: readonly string[]): string | undefined {
  const first = firstArgument(args, optionsWithValue);
  return first === undefined || first.startsWith('-') ? undefined : first;
}

/** Whether the command line asks for the version before any verb: then no command need be registered. */
export function asksForVersion(args: readonly string[], optionsWithValue: readonly string[], versionFlags: readonly string[]): boolean {
  const first = firstArgument(args, optionsWithValue);
  return first !== undefined && versionFlags.includes(first);
}

/** A command that accepts every call and does nothing: what the verbs not run get. */
function ignoredCommand(): Command {
  const stub: Command = new Proxy(function ignored() {}, {
    get: (_target, prop) => (prop === 'commands' || prop === 'options' ? [] : () => stub),
  }) as unknown as Command;
  return stub;
}

/**
 * Makes a program with `make` and registers commands on it with `register`, for real only
 * the top-level command named `verb` (all of them when verb is undefined or nothing registered it).
 */
export function programFor(make: () => Command, register: (program: Command) => void, verb: string | undefined): Command {
  if (verb !== undefined) {
    const program = make();
    const command = program.command.bind(program);
    const onlyVerb = new Proxy(program, {
      get: (target, prop, receiver) =>
        prop === 'command'
          ? (nameAndArgs: string, ...rest: unknown[]) =>
              nameAndArgs.split(/\s+/)[0] === verb ? (command as (...a: unknown[]) => Command)(nameAndArgs, ...rest) : ignoredCommand()
          : Reflect.get(target, prop, receiver),
    });
    register(onlyVerb);
    if (program.commands.some((c) => c.name() === verb || c.aliases().includes(verb))) return program;
  }
  const program = make();
  register(program);
  return program;
}
