// -t/--time of stop, restart and the pod verbs: whole seconds to wait before SIGKILL.
import { UsageError } from '../../errors.js';

export function parseTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`invalid --time "${value}": use a whole number of seconds`);
  return n;
}
