// The seccomp compiler: programs are run in a small classic-BPF interpreter
// (written here) against seccomp_data records to check each decision.
import { describe, expect, it } from 'vitest';
import { LaunchError } from '../../../src/errors.js';
import type { Seccomp, SeccompSyscall } from '../../../src/oci/runtime.js';
import {
  AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, BPF, SECCOMP_RET, compileSeccomp, compileSeccompInsns, encodeInsns, type Insn,
} from '../../../src/runtime/seccomp.js';
import { SYSCALLS_I386, SYSCALLS_X86_64 } from '../../../src/runtime/syscalls.js';
import { CLONE_NAMESPACE_FLAGS, defaultSeccompProfile } from '../../../src/spec/seccomp-default.js';

/** Instructions the last runBpf executed. */
let lastSteps = 0;

/** Runs a classic BPF program over struct seccomp_data; returns the SECCOMP_RET value. */
function runBpf(prog: Insn[], data: { nr: number; arch?: number; args?: bigint[] }): number {
  const mem = Buffer.alloc(64);
  mem.writeInt32LE(data.nr | 0, 0);
  mem.writeUInt32LE((data.arch ?? AUDIT_ARCH_X86_64) >>> 0, 4);
  (data.args ?? []).forEach((a, i) => mem.writeBigUInt64LE(BigInt.asUintN(64, a), 16 + 8 * i));
  let A = 0;
  let pc = 0;
  for (let steps = 0; steps < 100_000; steps++) {
    const ins = prog[pc];
    if (!ins) throw new Error(`pc ${pc} out of the program`);
    pc++;
    lastSteps = steps + 1;
    switch (ins.code) {
      case BPF.LD_W_ABS:
        if (ins.k % 4 || ins.k > 60) throw new Error(`bad load offset ${ins.k}`);
        A = mem.readUInt32LE(ins.k);
        break;
      case BPF.ALU_AND_K:
        A = (A & ins.k) >>> 0;
        break;
      case BPF.JMP_JA:
        pc += ins.k;
        break;
      case BPF.JEQ_K:
        pc += A === ins.k >>> 0 ? ins.jt : ins.jf;
        break;
      case BPF.JGT_K:
        pc += A > ins.k >>> 0 ? ins.jt : ins.jf;
        break;
      case BPF.JGE_K:
        pc += A >= ins.k >>> 0 ? ins.jt : ins.jf;
        break;
      case BPF.RET_K:
        return ins.k >>> 0;
      default:
        throw new Error(`unknown opcode ${ins.code}`);
    }
  }
  throw new Error('program does not terminate');
}

const X = SYSCALLS_X86_64;
const ERRNO = (e: number) => (SECCOMP_RET.ERRNO | e) >>> 0;
const decide = (p: Seccomp, nr: number, args: bigint[] = [], arch?: number) => runBpf(compileSeccompInsns(p), { nr, args, arch });

describe('seccomp compiler', () => {
  it('generates its syscall table from the kernel headers (spot checks)', () => {
    expect(X.read).toBe(0);
    expect(X.mkdir).toBe(83);
    expect(X.unshare).toBe(272);
    expect(SYSCALLS_I386.mkdir).toBe(39);
  });

  it('denies listed syscalls with their errno and allows the rest under an allow default', () => {
    const p: Seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] };
    expect(decide(p, X.mkdir!)).toBe(ERRNO(13));
    expect(decide(p, X.mkdirat!)).toBe(ERRNO(13));
    expect(decide(p, X.read!)).toBe(SECCOMP_RET.ALLOW);
  });

  it('uses defaultErrnoRet, EPERM without it, and skips unknown names', () => {
    const p: Seccomp = { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38, syscalls: [{ names: ['read', 'no_such_call'], action: 'SCMP_ACT_ALLOW' }] };
    expect(decide(p, X.read!)).toBe(SECCOMP_RET.ALLOW);
    expect(decide(p, X.write!)).toBe(ERRNO(38));
    expect(decide({ defaultAction: 'SCMP_ACT_ERRNO' }, X.write!)).toBe(ERRNO(1));
  });

  it('maps every action name', () => {
    const one = (action: string) => decide({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpid'], action }] }, X.getpid!);
    expect(one('SCMP_ACT_KILL')).toBe(SECCOMP_RET.KILL_THREAD);
    expect(one('SCMP_ACT_KILL_PROCESS')).toBe(SECCOMP_RET.KILL_PROCESS);
    expect(one('SCMP_ACT_TRAP')).toBe(SECCOMP_RET.TRAP);
    expect(one('SCMP_ACT_LOG')).toBe(SECCOMP_RET.LOG);
    expect(one('SCMP_ACT_TRACE')).toBe((SECCOMP_RET.TRACE | 1) >>> 0);
    expect(() => one('SCMP_ACT_NOTIFY')).toThrow(LaunchError);
    expect(() => one('SCMP_ACT_BOGUS')).toThrow(/unknown seccomp action "SCMP_ACT_BOGUS"/);
  });

  it('checks the architecture first: x32 and foreign ABIs get the default errno, or are killed under an allow default', () => {
    const deny: Seccomp = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] };
    expect(decide(deny, X.read! | 0x40000000)).toBe(ERRNO(1));
    expect(decide(deny, 3, [], AUDIT_ARCH_I386)).toBe(ERRNO(1));
    expect(decide(deny, 0, [], 0xc00000b7 /* aarch64 */)).toBe(ERRNO(1));
    const allow: Seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] };
    expect(decide(allow, X.mkdir! | 0x40000000)).toBe(SECCOMP_RET.KILL_PROCESS);
    expect(decide(allow, SYSCALLS_I386.mkdir!, [], AUDIT_ARCH_I386)).toBe(SECCOMP_RET.KILL_PROCESS);
  });

  it('filters i386 syscalls by their own numbers when SCMP_ARCH_X86 is listed', () => {
    const p: Seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }],
    };
    expect(decide(p, SYSCALLS_I386.mkdir!, [], AUDIT_ARCH_I386)).toBe(ERRNO(1));
    expect(decide(p, X.mkdir!, [], AUDIT_ARCH_I386)).toBe(SECCOMP_RET.ALLOW); // 83 is another call on i386
    expect(decide(p, X.mkdir!)).toBe(ERRNO(1));
  });

  const cmp = (op: string, value: number, valueTwo?: number): Seccomp => ({
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value, ...(valueTwo !== undefined ? { valueTwo } : {}), op }] }],
  });
  const ok = (p: Seccomp, v: bigint, index = 0) => {
    const args = [0n, 0n, 0n, 0n, 0n, 0n];
    args[index] = v;
    return decide(p, X.personality!, args) === SECCOMP_RET.ALLOW;
  };
  const BIG = 0x1_0000_0005n; // differs from 5 only in the high word

  it('compares 64-bit arguments: EQ and NE', () => {
    expect(ok(cmp('SCMP_CMP_EQ', 5), 5n)).toBe(true);
    expect(ok(cmp('SCMP_CMP_EQ', 5), 6n)).toBe(false);
    expect(ok(cmp('SCMP_CMP_EQ', 5), BIG)).toBe(false);
    expect(ok(cmp('SCMP_CMP_NE', 5), 5n)).toBe(false);
    expect(ok(cmp('SCMP_CMP_NE', 5), 6n)).toBe(true);
    expect(ok(cmp('SCMP_CMP_NE', 5), BIG)).toBe(true);
  });

  it('compares 64-bit arguments: LT, LE, GT, GE (unsigned)', () => {
    const table: [string, bigint, boolean][] = [
      ['SCMP_CMP_LT', 4n, true], ['SCMP_CMP_LT', 5n, false], ['SCMP_CMP_LT', BIG, false],
      ['SCMP_CMP_LE', 5n, true], ['SCMP_CMP_LE', 6n, false], ['SCMP_CMP_LE', 0n, true],
      ['SCMP_CMP_GT', 6n, true], ['SCMP_CMP_GT', 5n, false], ['SCMP_CMP_GT', BIG, true], ['SCMP_CMP_GT', 0xffffffffn, true],
      ['SCMP_CMP_GE', 5n, true], ['SCMP_CMP_GE', 4n, false], ['SCMP_CMP_GE', BIG, true],
    ];
    for (const [op, v, want] of table) expect([op, v, ok(cmp(op, 5), v)]).toEqual([op, v, want]);
    // a value with a high word
    expect(ok(cmp('SCMP_CMP_GT', 2 ** 33), 2n ** 33n + 1n)).toBe(true);
    expect(ok(cmp('SCMP_CMP_GT', 2 ** 33), 2n ** 32n + 7n)).toBe(false);
    expect(ok(cmp('SCMP_CMP_LT', 2 ** 33), 2n ** 32n + 7n)).toBe(true);
  });

  it('compares with MASKED_EQ: (arg & value) == valueTwo', () => {
    const p = cmp('SCMP_CMP_MASKED_EQ', 0xf0, 0x20);
    expect(ok(p, 0x2an)).toBe(true);
    expect(ok(p, 0x3an)).toBe(false);
    expect(ok(p, 0x1_0000_002an)).toBe(true); // high bits outside the mask do not matter
  });

  it('ANDs conditions on different arguments and ORs several on the same one (as runc)', () => {
    const and: Seccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }, { index: 2, value: 7, op: 'SCMP_CMP_EQ' }] }],
    };
    expect(decide(and, X.personality!, [1n, 0n, 7n])).toBe(SECCOMP_RET.ALLOW);
    expect(decide(and, X.personality!, [1n, 0n, 8n])).toBe(ERRNO(1));
    expect(decide(and, X.personality!, [2n, 0n, 7n])).toBe(ERRNO(1));
    const or: Seccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }, { index: 0, value: 3, op: 'SCMP_CMP_EQ' }] }],
    };
    expect(decide(or, X.personality!, [1n])).toBe(SECCOMP_RET.ALLOW);
    expect(decide(or, X.personality!, [3n])).toBe(SECCOMP_RET.ALLOW);
    expect(decide(or, X.personality!, [2n])).toBe(ERRNO(1));
  });

  it('refuses bad comparisons, indexes and flags by name', () => {
    expect(() => compileSeccompInsns(cmp('SCMP_CMP_WHAT', 1))).toThrow(/SCMP_CMP_WHAT/);
    const badIndex: Seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 0, op: 'SCMP_CMP_EQ' }] }] };
    expect(() => compileSeccompInsns(badIndex)).toThrow(/index 6/);
    expect(() => compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_NOPE'] })).toThrow(/SECCOMP_FILTER_FLAG_NOPE/);
    expect(compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'] }).flags).toBe(6);
  });

  it('encodes struct sock_filter little endian, 8 bytes each', () => {
    const b = encodeInsns([{ code: 0x15, jt: 2, jf: 3, k: 0xc000003e }]);
    expect(b.toString('hex')).toBe('150002033e0000c0');
    const { bytes } = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW' });
    expect(bytes.length % 8).toBe(0);
  });
});

describe("Docker's default seccomp profile", () => {
  const dockerCaps = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE'];
  const prog = compileSeccompInsns(defaultSeccompProfile(dockerCaps));
  const run = (name: string, args: bigint[] = []) => runBpf(prog, { nr: X[name]!, args });

  it('fits the kernel limit', () => {
    expect(prog.length).toBeLessThan(4096);
  });

  it('allows ordinary syscalls and chroot (CAP_SYS_CHROOT is a default capability)', () => {
    for (const n of ['read', 'write', 'openat', 'execve', 'mkdir', 'getdents64', 'wait4', 'rt_sigaction', 'arch_prctl', 'chroot', 'ptrace']) {
      expect([n, run(n)]).toEqual([n, SECCOMP_RET.ALLOW]);
    }
  });

  it('denies keyrings, mounts, namespaces, modules, clocks and reboot with EPERM', () => {
    for (const n of ['keyctl', 'add_key', 'request_key', 'mount', 'umount2', 'unshare', 'setns', 'init_module', 'reboot', 'clock_settime', 'bpf', 'pivot_root', 'acct', 'swapon']) {
      expect([n, run(n)]).toEqual([n, ERRNO(1)]);
    }
  });

  it('allows clone without namespace flags only, and makes clone3 fall back (ENOSYS)', () => {
    expect(run('clone', [0x01200011n /* fork-like flags */])).toBe(SECCOMP_RET.ALLOW);
    expect(run('clone', [0x10000000n /* CLONE_NEWUSER */])).toBe(ERRNO(1));
    expect(run('clone', [BigInt(CLONE_NAMESPACE_FLAGS)])).toBe(ERRNO(1));
    expect(run('clone3')).toBe(ERRNO(38));
  });

  it('allows only the Linux personalities', () => {
    for (const v of [0n, 8n, 0x20000n, 0x20008n, 0xffffffffn]) expect(run('personality', [v])).toBe(SECCOMP_RET.ALLOW);
    expect(run('personality', [0x0400000n /* READ_IMPLIES_EXEC */])).toBe(ERRNO(1));
  });

  it('allows sockets except AF_VSOCK', () => {
    expect(run('socket', [2n])).toBe(SECCOMP_RET.ALLOW);
    expect(run('socket', [40n])).toBe(ERRNO(1));
  });

  it('grants the privileged calls with their capability', () => {
    const admin = compileSeccompInsns(defaultSeccompProfile([...dockerCaps, 'SYS_ADMIN', 'CAP_SYS_TIME']));
    for (const n of ['mount', 'unshare', 'setns', 'clone3', 'clock_settime']) {
      expect([n, runBpf(admin, { nr: X[n]! })]).toEqual([n, SECCOMP_RET.ALLOW]);
    }
    expect(runBpf(admin, { nr: X.clone!, args: [0x10000000n] })).toBe(SECCOMP_RET.ALLOW);
    expect(runBpf(admin, { nr: X.keyctl! })).toBe(ERRNO(1));
    const noChroot = compileSeccompInsns(defaultSeccompProfile(['CAP_CHOWN']));
    expect(runBpf(noChroot, { nr: X.chroot! })).toBe(ERRNO(1));
  });

  it('kills nothing on the i386 ABI it lists: i386 calls are filtered by their own numbers', () => {
    expect(runBpf(prog, { nr: SYSCALLS_I386.mkdir!, arch: AUDIT_ARCH_I386 })).toBe(SECCOMP_RET.ALLOW);
    expect(runBpf(prog, { nr: SYSCALLS_I386.unshare!, arch: AUDIT_ARCH_I386 })).toBe(ERRNO(1));
  });
});

/**
 * What a profile means, evaluated straight from it (first matching rule wins; rules with the
 * default's action are left out, as the compiler and runc do): the compiled search must agree.
 */
function meaning(p: Seccomp, table: Readonly<Record<string, number>>, nr: number, args: bigint[]): number {
  const action = (a: string, errno?: number): number => {
    const named: Record<string, number> = {
      SCMP_ACT_ALLOW: SECCOMP_RET.ALLOW, SCMP_ACT_KILL: SECCOMP_RET.KILL_THREAD, SCMP_ACT_KILL_PROCESS: SECCOMP_RET.KILL_PROCESS,
      SCMP_ACT_TRAP: SECCOMP_RET.TRAP, SCMP_ACT_LOG: SECCOMP_RET.LOG,
    };
    if (a === 'SCMP_ACT_ERRNO') return ERRNO(errno ?? 1);
    return named[a]!;
  };
  const dflt = action(p.defaultAction, p.defaultErrnoRet);
  const arg = (i: number) => BigInt.asUintN(64, args[i] ?? 0n);
  const holds = (c: { index: number; value: number; valueTwo?: number; op: string }): boolean => {
    const a = arg(c.index);
    const v = BigInt.asUintN(64, BigInt(c.value));
    switch (c.op) {
      case 'SCMP_CMP_EQ': return a === v;
      case 'SCMP_CMP_NE': return a !== v;
      case 'SCMP_CMP_LT': return a < v;
      case 'SCMP_CMP_LE': return a <= v;
      case 'SCMP_CMP_GT': return a > v;
      case 'SCMP_CMP_GE': return a >= v;
      case 'SCMP_CMP_MASKED_EQ': return (a & v) === BigInt.asUintN(64, BigInt(c.valueTwo ?? 0));
      default: throw new Error(c.op);
    }
  };
  for (const sc of p.syscalls ?? []) {
    const act = action(sc.action, sc.errnoRet);
    if (act === dflt || !(sc.names ?? []).some((n) => table[n] === nr)) continue;
    const conds = sc.args ?? [];
    const alternatives = conds.length > 1 && conds.every((c) => c.index === conds[0]!.index);
    if (alternatives ? conds.some(holds) : conds.every(holds)) return act;
  }
  return dflt;
}

/** Argument vectors that sit on and beside every value a profile compares with. */
function probeArgs(p: Seccomp): bigint[][] {
  const vectors: bigint[][] = [[]];
  for (const sc of p.syscalls ?? []) {
    for (const c of sc.args ?? []) {
      for (const v of [BigInt(c.value), BigInt(c.value) + 1n, BigInt(c.value) - 1n, BigInt(c.valueTwo ?? 0), BigInt(c.value) | (1n << 40n)]) {
        const args = [0n, 0n, 0n, 0n, 0n, 0n];
        args[c.index] = BigInt.asUintN(64, v);
        vectors.push(args);
      }
    }
  }
  return vectors;
}

function expectSameMeaning(p: Seccomp): Insn[] {
  const prog = compileSeccompInsns(p);
  const vectors = probeArgs(p);
  const abis: [number, Readonly<Record<string, number>>][] = [[AUDIT_ARCH_X86_64, X]];
  if (p.architectures?.includes('SCMP_ARCH_X86')) abis.push([AUDIT_ARCH_I386, SYSCALLS_I386]);
  for (const [arch, table] of abis) {
    for (let nr = 0; nr < 600; nr++) {
      for (const args of vectors) {
        const got = runBpf(prog, { nr, args, arch });
        const want = meaning(p, table, nr, args);
        if (got !== want) expect({ arch, nr, args, got }).toEqual({ arch, nr, args, got: want });
      }
    }
    for (const nr of [1000, 0xffff, 0x3fffffff]) expect(runBpf(prog, { nr, arch })).toBe(meaning(p, table, nr, []));
  }
  return prog;
}

describe('seccomp program: a search on the syscall number', () => {
  const dockerCaps = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE'];

  it("decides every syscall number as Docker's profile says, on both ABIs and with several capability sets", () => {
    for (const caps of [dockerCaps, [...dockerCaps, 'CAP_SYS_ADMIN', 'CAP_SYS_PTRACE', 'CAP_SYS_TIME'], []]) expectSameMeaning(defaultSeccompProfile(caps));
  });

  it('decides random profiles as they say: repeated numbers, conditions, several actions', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const names = Object.keys(X);
    const actions = ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_TRAP', 'SCMP_ACT_LOG'];
    const ops = ['SCMP_CMP_EQ', 'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_GT', 'SCMP_CMP_GE', 'SCMP_CMP_MASKED_EQ'];
    for (let round = 0; round < 12; round++) {
      const syscalls: SeccompSyscall[] = [];
      // Few names, many rules: the same numbers come back with other conditions and actions.
      const pool = Array.from({ length: 8 + rand(60) }, () => names[rand(names.length)]!);
      for (let i = 0; i < 5 + rand(80); i++) {
        const args = Array.from({ length: rand(3) }, () => ({ index: rand(3), value: rand(2) ? rand(9) : 2 ** 33 + rand(3), valueTwo: rand(9), op: ops[rand(ops.length)]! }));
        syscalls.push({ names: [pool[rand(pool.length)]!, pool[rand(pool.length)]!], action: actions[rand(actions.length)]!, errnoRet: 1 + rand(40), args });
      }
      const p: Seccomp = {
        defaultAction: rand(2) ? 'SCMP_ACT_ALLOW' : 'SCMP_ACT_ERRNO',
        architectures: rand(2) ? ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'] : ['SCMP_ARCH_X86_64'],
        syscalls,
      };
      expectSameMeaning(p);
    }
  });

  it("runs a handful of instructions per syscall under Docker's profile, and is far from the kernel's size limit", () => {
    const prog = compileSeccompInsns(defaultSeccompProfile(dockerCaps));
    let most = 0;
    for (let nr = 0; nr < 470; nr++) {
      runBpf(prog, { nr });
      most = Math.max(most, lastSteps);
    }
    // A linear program tested one number per instruction: over 300 for the last listed calls.
    expect(most).toBeLessThanOrEqual(30);
    expect(prog.length).toBeLessThan(600);
  });
});
