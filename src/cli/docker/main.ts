// tsrun: the Docker-like front end. One file per verb under commands/.
import { Command } from 'commander';
import { addGlobalOptions, runProgram } from '../common.js';
import { asksForVersion, firstVerb, programFor } from '../lazy-verbs.js';
import { VERSION } from '../version.js';
import { registerDockerCommands } from './commands/index.js';

const makeProgram = () =>
  addGlobalOptions(new Command('tsrun'))
    .description('a daemonless container runtime with a Docker-like CLI')
    .version(VERSION, '-v, --version')
    .enablePositionalOptions();

// A run, start, restart or exec began warming the cgroup migration lock before this bundle loaded (early-warm.ts).
const args = process.argv.slice(2);
const globals = ['--root', '--runroot'];
// --version before any verb needs no command registered (registering them all costs ~5 ms).
const program = asksForVersion(args, globals, ['-v', '--version']) ? makeProgram() : programFor(makeProgram, registerDockerCommands, firstVerb(args, globals));
void runProgram(program, process.argv);
