// The contract between the CLI's flag declarations (cli/docker/run-flags.ts)
// and parseRunFlags: real argv through commander, then through our parser.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addContainerFlags } from '../../../src/cli/docker/run-flags.js';
import { parseRunFlags } from '../../../src/spec/options.js';

function parseArgv(argv: string[]): Record<string, unknown> {
  let result: Record<string, unknown> = {};
  const cmd = addContainerFlags(new Command('run'))
    .argument('<image>')
    .argument('[command...]')
    .passThroughOptions()
    .exitOverride()
    .action((_image: string, command: string[], opts: Record<string, unknown>) => {
      result = { ...opts, command };
    });
  cmd.parse(argv, { from: 'user' });
  return result;
}

describe('commander options -> parseRunFlags', () => {
  it('understands every value shape the CLI produces', () => {
    const raw = parseArgv([
      '-e', 'A=1', '-e', 'HOSTVAR', '--entrypoint', '', '-t', '-i', '--rm',
      '-u', 'app:staff', '-w', '/srv', '--group-add', 'audio',
      '-v', '/h:/data:ro', '--mount', 'type=tmpfs,dst=/cache,tmpfs-size=1m', '--tmpfs', '/run:exec',
      '--read-only', '-h', 'box', '--add-host', 'db:10.0.0.2', '--dns', '1.1.1.1', '-p', '8080:80',
      '--network', 'bridge', '--ipc', 'shareable', '--pid', 'host', '--init', '--cap-add', 'net_admin', '--cap-drop', 'ALL',
      '--security-opt', 'no-new-privileges', '--ulimit', 'nofile=1024:2048', '--sysctl', 'net.ipv4.ip_forward=1',
      '--device', '/dev/fuse', '--shm-size', '128m', '-m', '512m', '--memory-swap', '-1', '--memory-reservation', '256m',
      '--cpus', '1.5', '-c', '512', '--cpuset-cpus', '0-1', '--pids-limit', '-1', '--blkio-weight', '300',
      '--stop-signal', 'SIGINT', '--stop-timeout', '5', '-l', 'a=b', '--annotation', 'x=y', '--restart', 'no',
      'busybox', 'sh', '-c', 'echo hi',
    ]);
    const o = parseRunFlags(raw, { hostEnv: { HOSTVAR: 'h' } });
    expect(o).toMatchObject({
      command: ['sh', '-c', 'echo hi'],
      entrypoint: [],
      env: ['A=1', 'HOSTVAR=h'],
      tty: true,
      interactive: true,
      autoRemove: true,
      user: 'app:staff',
      workdir: '/srv',
      groupAdd: ['audio'],
      readOnly: true,
      hostname: 'box',
      addHosts: ['db:10.0.0.2'],
      dns: ['1.1.1.1'],
      publish: [{ hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
      network: { mode: 'bridge', network: 'bridge' },
      ipc: { mode: 'shareable' },
      pid: { mode: 'host' },
      init: true,
      capAdd: ['CAP_NET_ADMIN'],
      capDrop: ['ALL'],
      noNewPrivileges: true,
      ulimits: [{ name: 'nofile', soft: 1024, hard: 2048 }],
      sysctls: { 'net.ipv4.ip_forward': '1' },
      devices: [{ hostPath: '/dev/fuse', containerPath: '/dev/fuse', permissions: 'rwm' }],
      shmSize: 128 * 1024 ** 2,
      resources: {
        memory: 512 * 1024 ** 2,
        memorySwap: -1,
        memoryReservation: 256 * 1024 ** 2,
        nanoCpus: 1_500_000_000,
        cpuShares: 512,
        cpusetCpus: '0-1',
        pidsLimit: -1,
        blkioWeight: 300,
      },
      stopSignal: 'SIGINT',
      stopTimeout: 5,
      labels: { a: 'b' },
      annotations: { x: 'y' },
      restart: { name: 'no' },
    });
    expect(o.mounts!.map((m) => [m.type, m.target])).toEqual([
      ['bind', '/data'],
      ['tmpfs', '/cache'],
      ['tmpfs', '/run'],
    ]);
  });
});
