// tsrun version / tsrun info: what this installation is and where it keeps things.
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import type { Command } from 'commander';
import { detectLayout } from '../../../cgroup/index.js';
import { listImages } from '../../../engine/images.js';
import { action, contextOf } from '../../common.js';
import { VERSION } from '../../version.js';
import { containersOf } from '../engine-access.js';


export function registerVersion(program: Command): void {
  program
    .command('version')
    .description('show the tsrun version information')
    .option('-f, --format <format>', 'json for machine-readable output')
    .action(
      action('tsrun', (flags: { format?: string }) => {
        const info = { Version: VERSION, NodeVersion: process.version, Os: process.platform, Arch: process.arch, Kernel: release() };
        if (flags.format === 'json') process.stdout.write(JSON.stringify(info) + '\n');
        else process.stdout.write(Object.entries(info).map(([k, v]) => `${`${k}:`.padEnd(13)} ${v}`).join('\n') + '\n');
      }),
    );
}

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('display system-wide information')
    .option('-f, --format <format>', 'json for machine-readable output')
    .action(
      action('tsrun', (flags: { format?: string }, self: Command) => {
        const ctx = contextOf(self);
        const views = containersOf(self).list(true);
        const cg = detectLayout();
        const info = {
          Containers: views.length,
          ContainersRunning: views.filter((v) => v.state.status === 'running').length,
          ContainersStopped: views.filter((v) => v.state.status !== 'running').length,
          Images: listImages(ctx).length,
          StorageDriver: 'overlay',
          RootDir: ctx.root,
          RunRoot: ctx.runroot,
          CgroupVersion: cg.layout === 'unified' ? '2' : '1',
          CgroupLayout: cg.layout,
          DefaultRuntime: 'tsrun',
          Runtimes: ['tsrun', 'runc', 'crun'],
          SecurityOptions: ['seccomp (Docker default profile)', 'no-new-privileges (opt-in)'],
          KernelVersion: release(),
          OperatingSystem: osName(),
          ServerVersion: VERSION,
        };
        if (flags.format === 'json') {
          process.stdout.write(JSON.stringify(info) + '\n');
          return;
        }
        for (const [k, v] of Object.entries(info)) process.stdout.write(`${k}: ${Array.isArray(v) ? v.join(', ') : v}\n`);
      }),
    );
}

function osName(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]*)/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}
