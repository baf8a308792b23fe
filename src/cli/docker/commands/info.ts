// tsrun version / tsrun info: what this installation is and where it keeps things.
import { readFileSync } from 'node:fs';
import { arch, cpus, hostname, release, totalmem } from 'node:os';
import type { Command } from 'commander';
import { detectLayout } from '../../../cgroup/index.js';
import { listImages } from '../../../engine/images.js';
import { action, contextOf } from '../../common.js';
import { VERSION } from '../../version.js';
import { containersOf } from '../engine-access.js';
import { renderTemplate } from '../go-template.js';
import { stdout } from '../../stdout.js';


export function registerVersion(program: Command): void {
  program
    .command('version')
    .description('show the tsrun version information')
    .option('-f, --format <format>', 'json, or a Go template such as {{.Client.Version}}')
    .action(
      action('tsrun', (flags: { format?: string }) => {
        const info = { Version: VERSION, NodeVersion: process.version, Os: process.platform, Arch: process.arch, Kernel: release() };
        // Docker's scripts read {{.Client.Version}} or {{.Server.Version}}; without a daemon
        // the engine is this program, so both name it.
        if (flags.format) return printFormatted({ ...info, Client: info, Server: info }, flags.format);
        stdout.write(Object.entries(info).map(([k, v]) => `${`${k}:`.padEnd(13)} ${v}`).join('\n') + '\n');
      }),
    );
}

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('display system-wide information')
    .option('-f, --format <format>', 'json, or a Go template such as {{.CgroupVersion}}')
    .action(
      action('tsrun', (flags: { format?: string }, self: Command) => {
        const ctx = contextOf(self);
        const views = containersOf(self).list(true);
        const cg = detectLayout();
        const info = {
          Containers: views.length,
          // As Docker counts them: a paused container is not counted as running.
          ContainersRunning: views.filter((v) => v.state.status === 'running' && !v.state.paused).length,
          ContainersPaused: views.filter((v) => v.state.status === 'running' && v.state.paused).length,
          ContainersStopped: views.filter((v) => v.state.status !== 'running').length,
          Images: listImages(ctx).length,
          StorageDriver: 'overlay',
          Driver: 'overlay', // Docker's name for the same
          RootDir: ctx.root,
          DockerRootDir: ctx.root,
          RunRoot: ctx.runroot,
          CgroupVersion: cg.layout === 'unified' ? '2' : '1',
          CgroupLayout: cg.layout,
          CgroupDriver: 'cgroupfs',
          DefaultRuntime: 'tsrun',
          Runtimes: ['tsrun', 'runc', 'crun'],
          SecurityOptions: ['seccomp (Docker default profile)', 'no-new-privileges (opt-in)'],
          KernelVersion: release(),
          OperatingSystem: osName(),
          OSType: 'linux',
          Architecture: unameMachine(),
          NCPU: cpus().length,
          MemTotal: totalmem(),
          Name: hostname(),
          ServerVersion: VERSION,
        };
        if (flags.format) return printFormatted(info, flags.format);
        for (const [k, v] of Object.entries(info)) stdout.write(`${k}: ${Array.isArray(v) ? v.join(', ') : v}\n`);
      }),
    );
}

/** `json` prints the object as JSON; anything else is a Go template run on it, as Docker's --format. */
function printFormatted(value: object, format: string): void {
  stdout.write(format === 'json' ? `${JSON.stringify(value)}\n` : `${renderTemplate(format, value)}\n`);
}

/** uname -m: Docker's Architecture (x86_64, aarch64), where Node says x64 or arm64. */
function unameMachine(): string {
  return ({ x64: 'x86_64', arm64: 'aarch64', ia32: 'i686', arm: 'armv7l' } as Record<string, string>)[arch()] ?? arch();
}

function osName(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]*)/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}
