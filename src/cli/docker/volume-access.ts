// The volume engine for the volume verbs, and how they report errors: as the
// Docker CLI prints the daemon's answer ("Error response from daemon: ..."), exit 1.
import type { Command } from 'commander';
import { Volumes } from '../../engine/volumes.js';
import { describeError, NotFoundError } from '../../errors.js';
import { contextOf } from '../common.js';

export function volumesOf(cmd: Command): Volumes {
  return new Volumes(contextOf(cmd));
}

/** Docker's text for an error about volume `name` during `verb` ("get", "create", "remove"). */
export function volumeErrorText(verb: string, name: string, err: unknown): string {
  if (err instanceof NotFoundError && err.kind === 'volume') return `get ${name}: no such volume`;
  const text = describeError(err);
  return text.startsWith(`${verb} ${name}:`) ? text : `${verb} ${name}: ${text}`;
}

/** Applies a verb to several volumes as Docker does: report each failure, go on, exit 1 at the end. */
export async function forEachVolume(verb: string, names: string[], fn: (name: string) => Promise<void> | void): Promise<number> {
  let failed = 0;
  for (const name of names) {
    try {
      await fn(name);
    } catch (err) {
      process.stderr.write(`Error response from daemon: ${volumeErrorText(verb, name, err)}\n`);
      failed++;
    }
  }
  return failed ? 1 : 0;
}

/** Docker's shape of a volume for inspect (and for templates). */
export function inspectVolumeJson(v: {
  name: string;
  driver: string;
  createdAt: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  mountpoint: string;
  status?: Record<string, unknown>;
  scope?: string;
}) {
  return {
    CreatedAt: v.createdAt,
    Driver: v.driver,
    Labels: v.labels,
    Mountpoint: v.mountpoint,
    Name: v.name,
    Options: v.options,
    Scope: v.scope ?? 'local',
    // Only a plugin's volume has one, as in Docker (omitted when empty).
    ...(v.status && Object.keys(v.status).length > 0 ? { Status: v.status } : {}),
  };
}
