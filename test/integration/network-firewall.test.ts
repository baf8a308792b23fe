// Both firewall backends against a real kernel, inside a private network
// namespace (unshare -n) so the host's own rules are never touched:
//   flock /tmp/tsrun-integration.lock npx vitest run test/integration/network-firewall.test.ts
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDir } from '../../src/util/paths.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
let dir: string;
let bundle: string;

// The child publishes, lists, provokes a conflict, unpublishes, and dumps the rules at each stage.
const CHILD = `
import { NftFirewall, IptablesFirewall } from ${JSON.stringify(resolve(__dirname, '../../src/network/firewall.ts'))};
import { execFileSync } from 'node:child_process';
const backend = process.argv[2];
const lockDir = process.argv[3];
const fw = backend === 'nftables' ? new NftFirewall() : new IptablesFirewall();
const dump = () => backend === 'nftables' ? execFileSync('nft', ['list', 'ruleset'], { encoding: 'utf8' }) : execFileSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' });
const net = { table: 'tsfwtest', bridge: 'tsfwbr0', subnet: '10.232.0.0/24' };
const out = {};
await fw.ensureNetwork(net, lockDir);
await fw.ensureNetwork(net, lockDir);
await fw.publish('tsfwtest', 'c1', '10.232.0.2', [{ hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' }, { hostIp: '127.0.0.1', hostPort: 9000, containerPort: 90, protocol: 'udp' }]);
await fw.publish('tsfwtest', 'c2', '10.232.0.3', [{ hostIp: '', hostPort: 8081, containerPort: 80, protocol: 'tcp' }]);
out.conflict = await fw.publish('tsfwtest', 'c3', '10.232.0.4', [{ hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' }]).then(() => 'none', (e) => e.constructor.name + ': ' + e.message);
out.published = await fw.listPublished('tsfwtest');
out.rules = dump();
await fw.unpublish('tsfwtest', 'c1');
out.afterUnpublish = (await fw.listPublished('tsfwtest')).map((e) => e.owner);
await fw.unpublish('tsfwtest', 'c2');
await fw.removeNetwork(net);
await fw.deleteTable('tsfwtest');
out.finalRules = dump();
process.stdout.write(JSON.stringify(out));
`;

describe.skipIf(!isRoot)('firewall backends in a private netns', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsrun-fw-'));
    writeFileSync(join(dir, 'child.ts'), CHILD);
    bundle = join(dir, 'child.mjs');
    await build({ entryPoints: [join(dir, 'child.ts')], bundle: true, platform: 'node', format: 'esm', outfile: bundle, logLevel: 'silent' });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const backend of ['nftables', 'iptables']) {
    it(`${backend}: publish, conflict, unpublish by owner, remove everything`, async () => {
      const { stdout } = await run('unshare', ['-n', process.execPath, bundle, backend, join(dir, 'locks')], { env: { ...process.env, TSRUN_BUILD_DIR: buildDir() } });
      const out = JSON.parse(stdout) as { conflict: string; published: { owner: string; hostPort: number; hostIp: string; containerIp: string; containerPort: number; protocol: string }[]; rules: string; afterUnpublish: string[]; finalRules: string };
      expect(out.conflict).toBe('ConflictError: host port 8080/tcp is already published by c1');
      expect(out.published.map((p) => `${p.owner} ${p.hostIp}:${p.hostPort}/${p.protocol}->${p.containerIp}:${p.containerPort}`).sort()).toEqual([
        'c1 127.0.0.1:9000/udp->10.232.0.2:90',
        'c1 :8080/tcp->10.232.0.2:80',
        'c2 :8081/tcp->10.232.0.3:80',
      ]);
      expect(out.rules).toContain('10.232.0.0/24');
      expect(out.rules).toMatch(/masquerade|MASQUERADE/);
      expect(out.afterUnpublish).toEqual(['c2']);
      expect(out.finalRules).not.toMatch(/tsfwtest|TSFWTEST|10\.232/);
    });
  }
});
