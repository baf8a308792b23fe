// The few filesystem operations the cgroup code performs, behind one interface
// so unit tests can point it at a temp dir shaped like cgroupfs (and emulate
// the kernel populating interface files on mkdir).
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, writeSync, constants } from 'node:fs';

export interface CgroupFs {
  /** Whole file as text; throws ENOENT like fs.readFileSync. */
  read(path: string): string;
  /** One write(2) of `value` to an existing file; never creates or truncates (cgroupfs semantics). */
  write(path: string, value: string): void;
  exists(path: string): boolean;
  /** mkdir of one level; EEXIST is the caller's business. */
  mkdir(path: string): void;
  rmdir(path: string): void;
  /** Names of subdirectories (child cgroups). */
  subdirs(path: string): string[];
  /** Names of the (interface) files in a directory; optional for fakes that predate it. */
  files?(path: string): string[];
}

export const realCgroupFs: CgroupFs = {
  read: (path) => readFileSync(path, 'utf8'),
  write(path, value) {
    // O_WRONLY without O_CREAT/O_TRUNC: a missing interface file must fail with
    // ENOENT, and each cgroup file takes its value in a single write(2).
    const fd = openSync(path, constants.O_WRONLY);
    try {
      writeSync(fd, value);
    } finally {
      closeSync(fd);
    }
  },
  exists: (path) => existsSync(path),
  mkdir: (path) => mkdirSync(path),
  rmdir: (path) => rmdirSync(path),
  subdirs: (path) =>
    readdirSync(path, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name),
  files: (path) =>
    readdirSync(path, { withFileTypes: true })
      .filter((d) => d.isFile())
      .map((d) => d.name),
};

/** Errno code of a Node fs error ('ENOENT'...), or undefined. */
export function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Blocks the thread for `ms`. The manager's API is synchronous (it runs in
 * the short-lived CLI or between fork and exec bookkeeping), and the kernel
 * needs a few milliseconds to settle a freeze or release an emptied cgroup.
 */
export function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

/** Polls `done` every few ms until it returns true or `timeoutMs` passes; returns the last result. */
export function pollSync(done: () => boolean, timeoutMs: number, stepMs = 5): boolean {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (done()) return true;
    if (Date.now() >= deadline) return false;
    sleepSync(stepMs);
  }
}
