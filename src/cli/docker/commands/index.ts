// The table of tsrun's verbs; each lives in its own file.
import type { Command } from 'commander';

export function registerDockerCommands(program: Command): void {
  void program;
}
