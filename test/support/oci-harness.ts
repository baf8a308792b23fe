// The set-up shared by the tsrun-oci integration tests: a build, a busybox
// rootfs, a state root, bundles whose cgroups sit under one test parent, and
// tsrun-oci run with stdout/stderr in files (a created container inherits
// them, so no pipes). Everything is removed after the file's tests.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { Spec } from '../../src/oci/runtime.js';
import { makeBundle, makeBusyboxRootfs } from './rootfs.js';

export const OCI_BIN = join(__dirname, '../../bin/tsrun-oci');

export interface OciHarness {
  /** The scratch directory of this test file. */
  readonly work: string;
  /** tsrun-oci's --root. */
  readonly root: string;
  /** The busybox rootfs every bundle points at. */
  readonly rootfs: string;
  /** The stdout file of the last command (a created container keeps writing there). */
  readonly lastOut: string;
  /** A bundle running `args` in the busybox rootfs, with its cgroup under the test parent. */
  bundle(args: string[], edit?: (s: Spec) => void): { dir: string; id: string };
  oci(args: string[], extraFds?: number[]): { code: number; out: string; err: string };
  /** oci(), failing on a non-zero exit; returns stdout. */
  ok(args: string[]): string;
}

/** Registers the file's beforeAll/afterAll; ids start with `idPrefix`, cgroups go under `cgroupParent`. */
export function ociHarness(idPrefix: string, cgroupParent: string): OciHarness {
  let seq = 0;
  const h = {
    work: '',
    root: '',
    rootfs: '',
    lastOut: '',
    bundle(args: string[], edit?: (s: Spec) => void) {
      const id = `${idPrefix}${process.pid}-${++seq}`;
      const dir = join(h.work, `bundle-${seq}`);
      makeBundle(dir, h.rootfs, (s: Spec) => {
        s.process!.args = args;
        s.linux!.cgroupsPath = `/${cgroupParent}/${id}`;
        edit?.(s);
      });
      return { dir, id };
    },
    oci(args: string[], extraFds: number[] = []) {
      const n = ++seq;
      const outPath = join(h.work, `cmd-${n}.out`);
      const errPath = join(h.work, `cmd-${n}.err`);
      h.lastOut = outPath;
      const o = openSync(outPath, 'w');
      const e = openSync(errPath, 'w');
      try {
        const r = spawnSync(OCI_BIN, ['--root', h.root, ...args], { stdio: ['ignore', o, e, ...extraFds], timeout: 30_000 });
        return { code: r.status ?? -1, out: readFileSync(outPath, 'utf8'), err: readFileSync(errPath, 'utf8') };
      } finally {
        closeSync(o);
        closeSync(e);
      }
    },
    ok(args: string[]): string {
      const r = h.oci(args);
      if (r.code !== 0) throw new Error(`tsrun-oci ${args.join(' ')} exited ${r.code}: ${r.err}`);
      return r.out;
    },
  };
  beforeAll(() => {
    execFileSync('node', ['hack/build.mjs'], { stdio: 'inherit' });
    h.work = mkdtempSync(join(tmpdir(), `tsrun-${idPrefix}-`));
    chmodSync(h.work, 0o755);
    h.root = join(h.work, 'state');
    h.rootfs = makeBusyboxRootfs(join(h.work, 'rootfs'));
  });
  afterAll(() => {
    for (const id of existsSync(h.root) ? readdirSync(h.root) : []) spawnSync(OCI_BIN, ['--root', h.root, 'delete', '--force', id]);
    rmSync(h.work, { recursive: true, force: true });
    for (const hierarchy of readdirSync('/sys/fs/cgroup')) {
      try {
        rmdirSync(join('/sys/fs/cgroup', hierarchy, cgroupParent));
      } catch {
        /* absent or not a hierarchy */
      }
    }
  });
  return h;
}
