// The user's terminal in raw mode while a CLI relays it to a container's pty.
// Docker's raw mode (moby/term MakeRaw) is cfmakeraw's: output processing off
// too, so the pty's "\r\n" reaches the screen as is. Node's setRawMode (libuv)
// keeps OPOST|ONLCR and would turn it into "\r\r\n", so it is not used: the
// termios is set through the native addon; libuv reads the tty in any mode.
import { native } from '../native/index.js';

const FATAL: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGINT', 'SIGQUIT'];

/**
 * Makes the terminal on fd raw (cfmakeraw) and returns the function that puts
 * its settings back (idempotent). They are put back at process exit too, and
 * before a signal that nobody else handles ends the process.
 */
export function makeTerminalRaw(fd: number): () => void {
  const saved = native().makeRaw(fd);
  let restored = false;
  const onSignal = (sig: NodeJS.Signals) => {
    // Another listener (the signal proxy) keeps the process alive: stay raw.
    if (process.listenerCount(sig) > 1) return;
    restore();
    process.kill(process.pid, sig); // the signal's default action, now that we no longer listen
  };
  const restore = () => {
    if (restored) return;
    restored = true;
    process.off('exit', restore);
    for (const sig of FATAL) process.off(sig, onSignal);
    try {
      native().restoreTermios(fd, saved);
    } catch {
      // The terminal went away (hangup): nothing to put back.
    }
  };
  process.on('exit', restore);
  for (const sig of FATAL) process.on(sig, onSignal);
  return restore;
}
