// The engine objects the tsrun verbs use, built from the global options.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { Containers } from '../../engine/containers.js';
import { ContainerResources } from '../../engine/container-resources.js';
import { contextOf } from '../common.js';

/** Containers, with the exit hook that lets a detached container's monitor call back into this CLI. */
export function containersOf(cmd: Command): Containers {
  const containers = new Containers(contextOf(cmd), { cli: [process.execPath, resolve(process.argv[1] ?? 'tsrun')] });
  // Docker prints these on stderr; the default device rules that pure cgroup v2 cannot enforce are not worth one per container.
  containers.onWarning = (message, record) => {
    if (new ContainerResources(containers).warningMatters(record, message)) printWarning(message);
  };
  return containers;
}

/** A warning line as the Docker CLI prints it. */
export function printWarning(message: string): void {
  process.stderr.write(`WARNING: ${message}\n`);
}
