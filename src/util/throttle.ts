// Progress callbacks arrive per chunk; the CLI needs a few per second.

/** Calls `fn` at most every `ms`, except for the final call (done >= total), which always goes through. */
export function throttled(ms: number, fn: (done: number, total: number) => void): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (done >= total || now - last >= ms) {
      last = now;
      fn(done, total);
    }
  };
}
