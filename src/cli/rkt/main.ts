// tsrkt: the rkt-like front end (pods first), over the same engine as tsrun.
// `run`, `prepare` and `app add` use rkt's grammar (per-app flag groups split
// by `---` and `--`), which commander cannot parse: they get the raw argv after
// the global options. Every other verb is a commander command. tsrkt's own
// errors, usage errors included, exit 254.
import { Command } from 'commander';
import { makeContext, type EngineContext } from '../../engine/context.js';
import { addGlobalOptions, runProgram } from '../common.js';
import { firstVerb, programFor } from '../lazy-verbs.js';
import { EXIT_RKT, reportAndExit } from '../exit.js';
import { appAdd, registerAppVerbs } from './commands/app.js';
import { registerAttachVerb } from './commands/attach.js';
import { registerImageVerbs } from './commands/images.js';
import { registerPodVerbs } from './commands/pods.js';
import { runOrPrepare } from './commands/run.js';
import { addInsecureOption, asksVerbHelp, hoistInsecureOptions, INSECURE_FLAG, splitGlobalOptions } from './global-flags.js';
import { parseInsecureOptions } from '../../engine/rkt/insecure-options.js';

const raw = splitGlobalOptions(process.argv.slice(2));
const rawVerb = raw.rest[0] === 'run' || raw.rest[0] === 'prepare' ? raw.rest[0] : raw.rest[0] === 'app' && raw.rest[1] === 'add' ? 'app add' : undefined;
const wantsHelp = asksVerbHelp(raw.rest);
// A run, run-prepared or enter began warming the cgroup migration lock before this bundle loaded (early-warm.ts).

// An async main, not top-level await: the bundle is CommonJS (see hack/build.mjs).
async function main(): Promise<void> {
  if (rawVerb && !wantsHelp) {
    const ctx: EngineContext = makeContext(raw.root, raw.runroot);
    try {
      // Those after the verb are the verb's own pod flags (run-args.ts).
      const insecure = parseInsecureOptions(raw.insecure);
      const code =
        rawVerb === 'app add'
          ? await appAdd(ctx, raw.rest.slice(2))
          : await runOrPrepare(ctx, rawVerb as 'run' | 'prepare', raw.rest.slice(1), insecure);
      process.exitCode = code;
    } catch (err) {
      reportAndExit('tsrkt', err, EXIT_RKT);
    }
  } else {
    let args: string[];
    try {
      args = hoistInsecureOptions(process.argv.slice(2));
    } catch (err) {
      reportAndExit('tsrkt', err, EXIT_RKT);
    }
    const makeProgram = () =>
      addInsecureOption(addGlobalOptions(new Command('tsrkt')))
        .description('a daemonless container runtime with an rkt-like CLI (pods first)')
        .version('0.1.0')
        .enablePositionalOptions();
    const program = programFor(makeProgram, registerRktCommands, firstVerb(args, ['--root', '--runroot', INSECURE_FLAG]));
    await runProgram(program, [...process.argv.slice(0, 2), ...args], EXIT_RKT);
  }
}

/** The commander verbs; run and prepare are there for their help (their parsing is rkt's, above). */
function registerRktCommands(program: Command): void {
  for (const verb of ['run', 'prepare'] as const) {
    program
      .command(verb)
      .description(
        verb === 'run'
          ? 'run a pod: [pod flags] IMAGE [app flags] [-- args] [--- IMAGE [app flags] [-- args]]...'
          : 'prepare a pod to run later with run-prepared (same arguments as run); prints its UUID',
      )
      .allowUnknownOption()
      .argument('[args...]');
  }
  registerImageVerbs(program);
  registerPodVerbs(program);
  registerAppVerbs(program);
  registerAttachVerb(program);
}

void main();

