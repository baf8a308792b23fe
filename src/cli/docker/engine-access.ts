// The engine objects the tsrun verbs use, built from the global options.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { Containers } from '../../engine/containers.js';
import { contextOf } from '../common.js';

/** Containers, with the exit hook that lets a detached container's monitor call back into this CLI. */
export function containersOf(cmd: Command): Containers {
  return new Containers(contextOf(cmd), { cli: [process.execPath, resolve(process.argv[1] ?? 'tsrun')] });
}
