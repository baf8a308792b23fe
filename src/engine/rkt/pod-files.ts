// The files inside an rkt pod directory (next to `lock`):
//   pod        the appc pod manifest (JSON), as `rkt cat-manifest` prints it
//   pod.json   tsrkt's own facts: the engine pod and the container of each app
//   halt.json  the first app failure that halted the pod (its code is `run`'s status)
// Each is written atomically (temp + rename), so a kill -9 leaves the old or the new file.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../../util/fs.js';
import type { RktDnsConfig } from './dns.js';
import type { ResolvedApp } from './manifest.js';
import type { RktPodSpec, RktVolume } from './pod-spec.js';
import type { RktStdio } from './stdio.js';

export interface RktAppMeta {
  name: string;
  /** The image as the user named it, its tsrun ("sha256:") ID and its rkt ("sha512-") ID (image-id.ts). */
  image: string;
  imageId: string;
  rktImageId?: string;
  /** The engine container that runs the app (absent until it is created). */
  containerId?: string;
  /** The app's --stdin/--stdout/--stderr modes (absent: rkt's defaults). */
  stdio?: RktStdio;
  /** Names of the implicit volumes made for its image's mount points (mount-points.ts). */
  implicitVolumes?: string[];
}

export interface RktPodMeta {
  uuid: string;
  created: string;
  /** First start of the apps (run/run-prepared/sandbox). */
  started?: string;
  /** The engine pod (src/engine/pods.ts) that holds the shared namespaces; its name is `rkt-<uuid>`. */
  enginePod?: string;
  /** `app sandbox` pods: apps come and go, the pod stays until stopped. */
  mutable: boolean;
  sandboxStopped?: boolean;
  interactive: boolean;
  hostname: string;
  net: RktPodSpec['net'];
  /** --dns* and --hosts-entry (absent: the engine's files); apps added later get the same. */
  dns?: RktDnsConfig;
  apps: RktAppMeta[];
  /**
   * What it takes to make the apps' containers again (their mounts are fixed
   * when they are created): run-prepared does so for --dns* / --hosts-entry.
   * Absent in pods prepared before it was kept.
   */
  recreate?: { apps: ResolvedApp[]; volumes: RktVolume[] };
}

export interface HaltRecord {
  /** The app whose failure halted the pod, or absent for `tsrkt stop`. */
  app?: string;
  exitCode?: number;
  reason: 'app-failed' | 'stopped';
  at: string;
}

export const enginePodName = (uuid: string) => `rkt-${uuid}`;

export function readMeta(dir: string): RktPodMeta | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'pod.json'), 'utf8')) as RktPodMeta;
  } catch {
    return undefined;
  }
}

export function writeMeta(dir: string, meta: RktPodMeta): void {
  writeJsonAtomic(join(dir, 'pod.json'), meta);
}

export function readManifest(dir: string): unknown {
  try {
    return JSON.parse(readFileSync(join(dir, 'pod'), 'utf8'));
  } catch {
    return undefined;
  }
}

export function writeManifest(dir: string, manifest: unknown): void {
  writeJsonAtomic(join(dir, 'pod'), manifest);
}

export function readHalt(dir: string): HaltRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'halt.json'), 'utf8')) as HaltRecord;
  } catch {
    return undefined;
  }
}

/**
 * Records why the pod halts; the first writer wins (O_EXCL), so when one app's
 * failure stops the others, their own exits never overwrite the cause. False
 * when a halt was already recorded.
 */
export function claimHalt(dir: string, halt: HaltRecord): boolean {
  let fd: number;
  try {
    fd = openSync(join(dir, 'halt.json'), 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, JSON.stringify(halt) + '\n');
  } finally {
    closeSync(fd);
  }
  return true;
}
