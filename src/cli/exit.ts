// The one place that turns an error into a message and an exit code.
import { TsrunError, describeError } from '../errors.js';

export const EXIT_TSRUN = 125;
export const EXIT_CANNOT_INVOKE = 126;
export const EXIT_NOT_FOUND = 127;
/** rkt's own errors exit 254. */
export const EXIT_RKT = 254;
/** What Docker's CLI ends with when its stdout reader goes away (killed by SIGPIPE: 128 + 13). */
export const EXIT_BROKEN_PIPE = 141;

/**
 * For verbs that stream to stdout (`tsrun logs c | head`): when the reader goes away, end
 * quietly with 141 as Docker's CLI does; any other error goes to the reporter.
 */
export function endOnBrokenStdout(prog: string, err: unknown, ownErrorCode = EXIT_TSRUN): never {
  if ((err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE') process.exit(EXIT_BROKEN_PIPE);
  reportAndExit(prog, err, ownErrorCode);
}

export function exitCodeFor(err: unknown, ownErrorCode = EXIT_TSRUN): number {
  if (err instanceof TsrunError) {
    if (err.exitKind === 'cannot-invoke') return EXIT_CANNOT_INVOKE;
    if (err.exitKind === 'not-found') return EXIT_NOT_FOUND;
  }
  return ownErrorCode;
}

/**
 * Print "prog: message" (and a hint) to stderr; returns the mapped exit code. For verbs
 * that go on with their other names after one fails (`tsrun stop a b`).
 */
export function reportError(prog: string, err: unknown, ownErrorCode = EXIT_TSRUN): number {
  const text = describeError(err);
  process.stderr.write(`${prog}: ${text}\n`);
  if (err instanceof TsrunError && err.hint) process.stderr.write(`hint: ${err.hint}\n`);
  if (process.env.TSRUN_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return exitCodeFor(err, ownErrorCode);
}

/** Print "prog: message" (and a hint) to stderr and exit with the mapped code. */
export function reportAndExit(prog: string, err: unknown, ownErrorCode = EXIT_TSRUN): never {
  process.exit(reportError(prog, err, ownErrorCode));
}
