// tsrun: the Docker-like front end. One file per verb under commands/.
import { Command } from 'commander';
import { addGlobalOptions, runProgram } from '../common.js';
import { firstVerb, programFor } from '../lazy-verbs.js';
import { VERSION } from '../version.js';
import { registerDockerCommands } from './commands/index.js';

const makeProgram = () =>
  addGlobalOptions(new Command('tsrun'))
    .description('a daemonless container runtime with a Docker-like CLI')
    .version(VERSION, '-v, --version')
    .enablePositionalOptions();

// A run, start, restart or exec began warming the cgroup migration lock before this bundle loaded (early-warm.ts).
const verb = firstVerb(process.argv.slice(2), ['--root', '--runroot']);
void runProgram(programFor(makeProgram, registerDockerCommands, verb), process.argv);
