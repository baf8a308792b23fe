// tsrun: the Docker-like front end. One file per verb under commands/.
import { Command } from 'commander';
import { addGlobalOptions, runProgram } from '../common.js';
import { VERSION } from '../version.js';
import { registerDockerCommands } from './commands/index.js';

const program = addGlobalOptions(new Command('tsrun'))
  .description('a daemonless container runtime with a Docker-like CLI')
  .version(VERSION, '-v, --version')
  .enablePositionalOptions();

registerDockerCommands(program);
void runProgram(program, process.argv);
