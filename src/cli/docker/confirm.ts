// The prune verbs' question on the terminal, as the Docker CLI asks it.
import { createInterface } from 'node:readline/promises';

/** Asks on the terminal; anything but y/yes (or no terminal) is a no. */
export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } catch {
    return false;
  } finally {
    rl.close();
  }
}
