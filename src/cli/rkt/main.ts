// tsrkt: the rkt-like front end (pods first), over the same engine as tsrun.
import { Command } from 'commander';
import { addGlobalOptions, runProgram } from '../common.js';
import { VERSION } from '../version.js';
import { EXIT_RKT } from '../exit.js';

const program = addGlobalOptions(new Command('tsrkt'))
  .description('a daemonless container runtime with an rkt-like CLI (pods first)')
  .version(VERSION)
  .enablePositionalOptions();

await runProgram(program, process.argv, EXIT_RKT);
