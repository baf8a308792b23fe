// What a command prints on stdout, written to fd 1 at once. Node's process.stdout is a stream
// made on first use: for a pipe a net.Socket, for a terminal a tty.WriteStream, 1-2.5 ms of a
// start (`ps -a | cat`: 36.8 -> 33.6 ms). Commands that hand stdout to a stream (logs, attach,
// export, save, `cp ... -`, pull's progress) keep process.stdout; one command uses one or the
// other, never both, so their bytes cannot pass each other.
import { writeSync } from 'node:fs';
import { EXIT_BROKEN_PIPE } from './exit.js';

const retryCell = new Int32Array(new SharedArrayBuffer(4));

export const stdout = {
  /** Writes all of `text`; a reader that went away ends the command with 141, as Docker's CLI does. */
  write(text: string): boolean {
    let bytes = Buffer.from(text, 'utf8');
    while (bytes.length > 0) {
      try {
        bytes = bytes.subarray(writeSync(1, bytes));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') process.exit(EXIT_BROKEN_PIPE);
        if (code !== 'EAGAIN' && code !== 'EINTR') throw err;
        Atomics.wait(retryCell, 0, 0, 1); // a non-blocking pipe we inherited is full: let its reader catch up
      }
    }
    return true;
  },
};
