// tsrun: the Docker-like front end. One file per verb under commands/.
import { Command } from 'commander';
import { addGlobalOptions, runProgram } from '../common.js';
import { firstVerb, programFor } from '../lazy-verbs.js';
import { VERSION } from '../version.js';
import { warmIfStarting } from '../warm-start.js';
import { registerDockerCommands } from './commands/index.js';

const makeProgram = () =>
  addGlobalOptions(new Command('tsrun'))
    .description('a daemonless container runtime with a Docker-like CLI')
    .version(VERSION, '-v, --version')
    .enablePositionalOptions();

const verb = firstVerb(process.argv.slice(2), ['--root', '--runroot']);
warmIfStarting(verb, ['run', 'start', 'restart', 'exec']);
void runProgram(programFor(makeProgram, registerDockerCommands, verb), process.argv);
