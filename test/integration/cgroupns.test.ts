// Containers get a cgroup namespace of their own by default (--cgroupns
// private), rooted at the container's cgroup: /proc/self/cgroup shows "/" and
// /sys/fs/cgroup shows the container's own cgroup files, read-only.
// --cgroupns host keeps the host's namespace; exec joins the container's.
// The real docker-registry on 127.0.0.1 serves busybox. As root, under the lock:
//   flock /tmp/tsrun-integration.lock npx vitest run test/integration/cgroupns.test.ts
import { readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectLayout, hostCgroupHierarchies } from '../../src/cgroup/index.js';
import { usePulledBusybox } from '../support/pulled-busybox.js';
import type { TsrunCli } from '../support/tsrun-cli.js';

let cli: TsrunCli;
let image: string;
usePulledBusybox((env) => ({ cli, image } = env));

const hostCgroupns = readlinkSync('/proc/self/ns/cgroup');
const layout = detectLayout();
// Where the container finds its pids controller: its v1 hierarchy's directory, else cgroup2 at the root.
const pidsDir = layout.v1.pids ? `/sys/fs/cgroup/${basename(layout.v1.pids)}` : '/sys/fs/cgroup';

function ok(args: string[]): string {
  const r = cli.run(args);
  expect(r.code, `tsrun ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

function sh(flags: string[], script: string): string[] {
  return ok(['run', '--rm', '--network', 'none', ...flags, image, 'sh', '-c', script]).trim().split('\n');
}

describe('a private cgroup namespace (the default)', () => {
  it('is not the host\'s, and /proc/self/cgroup shows the container\'s cgroup as "/" in every hierarchy', () => {
    const [ns, ...cgroup] = sh([], 'readlink /proc/self/ns/cgroup; cat /proc/self/cgroup');
    expect(ns).toMatch(/^cgroup:\[\d+\]$/);
    expect(ns).not.toBe(hostCgroupns);
    if (layout.unifiedPath) expect(cgroup).toContain('0::/');
    // v1 lines ("4:memory:/") too: none shows the host's /tsrun/<id>.
    expect(cgroup.length).toBeGreaterThan(0);
    for (const line of cgroup) expect(line, cgroup.join('\n')).toMatch(/^\d+:[^:]*:\/$/);
  });

  it('/sys/fs/cgroup shows the container\'s own cgroup (its --pids-limit), mounted afresh and read-only', () => {
    const out = sh(
      ['--pids-limit', '42'],
      `cat ${pidsDir}/pids.max; grep -c '^1$' ${pidsDir}/cgroup.procs; ` +
        `(echo 50 > ${pidsDir}/pids.max) 2>/dev/null && echo limit-writable || echo limit-ro; ` +
        `mkdir ${pidsDir}/sub 2>/dev/null && echo mkdir-ok || echo mkdir-ro; ` +
        'touch /sys/fs/cgroup/x 2>/dev/null && echo tmpfs-writable || echo tmpfs-ro; ' +
        // root, mount point, options and fs type of each mount at or under /sys/fs/cgroup
        `awk '$5 ~ /^\\/sys\\/fs\\/cgroup/ { i = 7; while ($i != "-") i++; print $4, $5, $6, $(i + 1) }' /proc/self/mountinfo`,
    );
    expect(out.slice(0, 5)).toEqual(['42', '1', 'limit-ro', 'mkdir-ro', 'tmpfs-ro']);
    const mounts = out.slice(5).map((l) => l.split(' '));
    // Every cgroup filesystem of the host, each showing its hierarchy from the namespace root, read-only.
    const cgroupMounts = mounts.filter((m) => m[3] === 'cgroup' || m[3] === 'cgroup2');
    expect(cgroupMounts.length, out.join('\n')).toBe(hostCgroupHierarchies().length);
    for (const m of cgroupMounts) {
      expect(m[0], m.join(' ')).toBe('/');
      expect(m[2]!.split(',')).toContain('ro');
    }
    if (layout.layout !== 'unified') {
      expect(mounts[0]!.slice(1)).toEqual(['/sys/fs/cgroup', expect.stringMatching(/^ro,/), 'tmpfs']);
      if (layout.unifiedPath) expect(cgroupMounts.find((m) => m[1] === '/sys/fs/cgroup/unified')?.[3]).toBe('cgroup2');
    }
  });

  it('tsrun exec joins it: the same namespace as the container\'s init, and "/" there too', () => {
    ok(['run', '-d', '--name', 'cgns-exec', '--network', 'none', image, 'sleep', '60']);
    try {
      const pid = Number(ok(['inspect', '-f', '{{.State.Pid}}', 'cgns-exec']).trim());
      const initNs = readlinkSync(`/proc/${pid}/ns/cgroup`);
      expect(initNs).not.toBe(hostCgroupns);
      const [ns, ...cgroup] = ok(['exec', 'cgns-exec', 'sh', '-c', 'readlink /proc/self/ns/cgroup; cat /proc/self/cgroup']).trim().split('\n');
      expect(ns).toBe(initNs);
      for (const line of cgroup) expect(line, cgroup.join('\n')).toMatch(/^\d+:[^:]*:\/$/);
    } finally {
      cli.run(['rm', '-f', 'cgns-exec']);
    }
  });
});

describe('--cgroupns', () => {
  it('host keeps the host\'s namespace, where the container sees its cgroup path', () => {
    const id = ok(['run', '-d', '--cgroupns', 'host', '--network', 'none', image, 'sleep', '60']).trim();
    try {
      const [ns, ...cgroup] = ok(['exec', id, 'sh', '-c', 'readlink /proc/self/ns/cgroup; cat /proc/self/cgroup']).trim().split('\n');
      expect(ns).toBe(hostCgroupns);
      expect(cgroup.some((l) => l.endsWith(`/tsrun/${id}`)), cgroup.join('\n')).toBe(true);
    } finally {
      cli.run(['rm', '-f', id]);
    }
    expect(sh(['--cgroupns', 'private'], 'readlink /proc/self/ns/cgroup')[0]).not.toBe(hostCgroupns);
  });

  it('an unknown mode is refused with 125 and creates nothing', () => {
    for (const verb of ['run', 'create']) {
      const r = cli.run([verb, '--cgroupns', 'maybe', '--name', `bad-${verb}`, image, 'true']);
      expect(r.code, r.stderr).toBe(125);
      expect(r.stderr).toMatch(/--cgroupns "maybe"/);
    }
    expect(ok(['ps', '-aq', '--filter', 'name=bad-'])).toBe('');
  });
});
