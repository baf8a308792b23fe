// The volume engine for the volume verbs, and how they report errors: through the one
// reporter ("tsrun: no such volume: NAME"), each failure as it happens, exit 125 if any.
import type { Command } from 'commander';
import { Volumes } from '../../engine/volumes.js';
import { describeError, NotFoundError, TsrunError } from '../../errors.js';
import { contextOf } from '../common.js';
import { EXIT_TSRUN, reportError } from '../exit.js';

export function volumesOf(cmd: Command): Volumes {
  return new Volumes(contextOf(cmd));
}

/**
 * An error about volume `name` during `verb` ("get", "create", "remove"), named by both
 * unless it already says which volume ("no such volume: NAME", "remove NAME: ...").
 */
export function volumeError(verb: string, name: string, err: unknown): unknown {
  if (err instanceof NotFoundError || name === '' || describeError(err).startsWith(`${verb} ${name}:`)) return err;
  const hint = err instanceof TsrunError ? err.hint : undefined;
  return new TsrunError('VOLUME', `${verb} ${name}`, { cause: err, hint });
}

/** Applies a verb to several volumes: each failure reported as it happens, the others still run; 125 if any failed. */
export async function forEachVolume(verb: string, names: string[], fn: (name: string) => Promise<void> | void): Promise<number> {
  let failed = 0;
  for (const name of names) {
    try {
      await fn(name);
    } catch (err) {
      reportError('tsrun', volumeError(verb, name, err));
      failed++;
    }
  }
  return failed ? EXIT_TSRUN : 0;
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
