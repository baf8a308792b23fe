// tsrkt: the rkt-like front end (pods first), over the same engine as tsrun.
import { Command } from 'commander';
import { addGlobalOptions, runProgram } from '../common.js';
import { EXIT_RKT } from '../exit.js';

const program = addGlobalOptions(new Command('tsrkt'))
  .description('a daemonless container runtime with an rkt-like CLI (pods first)')
  .version('0.1.0')
  .enablePositionalOptions();

await runProgram(program, process.argv, EXIT_RKT);
