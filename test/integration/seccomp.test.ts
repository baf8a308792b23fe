// Seccomp profiles from config.json, loaded by the C helper into real
// containers: a custom profile denying mkdir, and Docker's default profile.
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Seccomp, Spec } from '../../src/oci/runtime.js';
import { Launcher } from '../../src/runtime/index.js';
import { defaultSeccompProfile } from '../../src/spec/seccomp-default.js';
import { makeBundle, makeBusyboxRootfs } from '../support/rootfs.js';

let work: string;
let rootfs: string;
let seq = 0;

// A static probe that makes one raw syscall and prints "<name> <errno>".
const PROBE = `
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    long r = -1;
    errno = 0;
    if (!strcmp(argv[i], "keyctl")) r = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0);
    else if (!strcmp(argv[i], "add_key")) r = syscall(SYS_add_key, "user", "k", "v", 1, -3);
    else if (!strcmp(argv[i], "unshare")) r = syscall(SYS_unshare, CLONE_NEWUTS);
    else if (!strcmp(argv[i], "mount")) r = syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, 0);
    else if (!strcmp(argv[i], "mkdir")) r = syscall(SYS_mkdir, "/tmp/probe-dir", 0755);
    else if (!strcmp(argv[i], "getpid")) r = syscall(SYS_getpid);
    printf("%s %d\\n", argv[i], r < 0 ? errno : 0);
  }
  return 0;
}
`;

beforeAll(() => {
  execFileSync('node', ['hack/build.mjs'], { stdio: 'inherit' });
  work = mkdtempSync(join(tmpdir(), 'tsrun-seccomp-'));
  chmodSync(work, 0o755);
  rootfs = makeBusyboxRootfs(join(work, 'rootfs'));
  writeFileSync(join(work, 'probe.c'), PROBE);
  execFileSync('cc', ['-static', '-O1', '-o', join(rootfs, 'bin/probe'), join(work, 'probe.c')]);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function run(args: string[], seccomp: Seccomp | undefined): Promise<{ code: number; out: string; err: string }> {
  const dir = join(work, `b${++seq}`);
  makeBundle(dir, rootfs, (s: Spec) => {
    s.process!.args = args;
    if (seccomp) s.linux!.seccomp = seccomp;
  });
  const o = openSync(join(dir, 'out'), 'w');
  const e = openSync(join(dir, 'err'), 'w');
  const l = new Launcher(join(work, 'state'));
  const id = `sc${process.pid}-${seq}`;
  try {
    const st = await l.run(id, dir, { detach: false, stdio: ['ignore', o, e] });
    return { code: st!.exitCode, out: readFileSync(join(dir, 'out'), 'utf8'), err: readFileSync(join(dir, 'err'), 'utf8') };
  } finally {
    closeSync(o);
    closeSync(e);
    await l.delete(id, true);
  }
}

const DOCKER_CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE'];

describe('seccomp in containers', () => {
  it('a profile denying mkdir makes mkdir fail with EPERM, other calls work', async () => {
    const deny: Seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };
    const r = await run(['sh', '-c', 'mkdir /tmp/x; echo "rc=$?"; probe mkdir getpid'], deny);
    expect(r.err).toMatch(/Operation not permitted/);
    expect(r.out).toBe('rc=1\nmkdir 1\ngetpid 0\n');
    // without the profile, the same command succeeds
    const free = await run(['sh', '-c', 'mkdir /tmp/x; echo "rc=$?"'], undefined);
    expect(free.out).toBe('rc=0\n');
  });

  it("Docker's default profile runs sh, ls and ps", async () => {
    const r = await run(['sh', '-c', 'ls / >/dev/null && ps >/dev/null && echo ok && mkdir /tmp/d && echo made'], defaultSeccompProfile(DOCKER_CAPS));
    expect(r.err).toBe('');
    expect(r.out).toBe('ok\nmade\n');
    expect(r.code).toBe(0);
  });

  it("Docker's default profile denies unshare, mount and the keyring calls with EPERM", async () => {
    const r = await run(['probe', 'unshare', 'mount', 'keyctl', 'add_key', 'getpid'], defaultSeccompProfile(DOCKER_CAPS));
    expect(r.out).toBe('unshare 1\nmount 1\nkeyctl 1\nadd_key 1\ngetpid 0\n');
    const sh = await run(['sh', '-c', 'unshare -u true; echo "rc=$?"'], defaultSeccompProfile(DOCKER_CAPS));
    expect(sh.out).toBe('rc=1\n');
  });

  it('the denial comes from the filter: with CAP_SYS_ADMIN granted by the profile, unshare works', async () => {
    const caps = [...DOCKER_CAPS, 'CAP_SYS_ADMIN'];
    const dir = join(work, `b${++seq}`);
    makeBundle(dir, rootfs, (s: Spec) => {
      s.process!.args = ['probe', 'unshare', 'keyctl'];
      s.process!.capabilities = { bounding: caps, effective: caps, permitted: caps, ambient: [] };
      s.linux!.seccomp = defaultSeccompProfile(caps);
    });
    const o = openSync(join(dir, 'out'), 'w');
    const l = new Launcher(join(work, 'state'));
    const id = `sc${process.pid}-${seq}`;
    try {
      await l.run(id, dir, { detach: false, stdio: ['ignore', o, 'inherit'] });
    } finally {
      closeSync(o);
      await l.delete(id, true);
    }
    expect(readFileSync(join(dir, 'out'), 'utf8')).toBe('unshare 0\nkeyctl 1\n');
  });
});
