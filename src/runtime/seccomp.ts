// Compiles an OCI linux.seccomp profile into a classic BPF program (the
// struct sock_filter[] that seccomp(SECCOMP_SET_MODE_FILTER) loads) for x86_64:
// check the architecture first, then find the syscall number by binary search
// over ranges of numbers that share an outcome; a number with argument
// conditions tries its rules in profile order, first match wins.
//
// Program shape:
//   ld arch; jeq X86_64 ? native : other
//   native: ld nr; jge 0x40000000 -> badarch (x32 ABI); search...
//   other:  jeq I386 (only if listed) ? ld nr; i386 search... : badarch
//   badarch: ret <defaultAction if it is an errno, else KILL_PROCESS>
// Names unknown to an architecture's table are skipped, as runc does.
import { LaunchError } from '../errors.js';
import type { Seccomp, SeccompSyscall } from '../oci/runtime.js';
import type { SeccompProgram } from './plan.js';
import { SYSCALLS_I386, SYSCALLS_X86_64 } from './syscalls.js';

// ---- kernel ABI -------------------------------------------------------------

export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const AUDIT_ARCH_I386 = 0x40000003;
const X32_SYSCALL_BIT = 0x40000000;

export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

const FILTER_FLAGS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: 1,
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 32,
};

const EPERM = 1;

// BPF opcodes (linux/filter.h).
export const BPF = {
  LD_W_ABS: 0x20, // BPF_LD | BPF_W | BPF_ABS
  ALU_AND_K: 0x54, // BPF_ALU | BPF_AND | BPF_K
  JMP_JA: 0x05,
  JEQ_K: 0x15,
  JGT_K: 0x25,
  JGE_K: 0x35,
  RET_K: 0x06,
} as const;

// Offsets in struct seccomp_data.
const OFF_NR = 0;
const OFF_ARCH = 4;
const argLo = (i: number) => 16 + 8 * i; // little endian: low word first
const argHi = (i: number) => 16 + 8 * i + 4;

export interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** The SECCOMP_RET_* value of an OCI action name (SCMP_ACT_*). */
export function actionValue(action: string, errnoRet: number | undefined): number {
  switch (action) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return SECCOMP_RET.KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS':
      return SECCOMP_RET.KILL_PROCESS;
    case 'SCMP_ACT_TRAP':
      return SECCOMP_RET.TRAP;
    case 'SCMP_ACT_ERRNO':
      return (SECCOMP_RET.ERRNO | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case 'SCMP_ACT_TRACE':
      return (SECCOMP_RET.TRACE | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case 'SCMP_ACT_LOG':
      return SECCOMP_RET.LOG;
    case 'SCMP_ACT_ALLOW':
      return SECCOMP_RET.ALLOW;
    case 'SCMP_ACT_NOTIFY':
      throw new LaunchError('seccomp action SCMP_ACT_NOTIFY needs a listenerPath, which tsrun does not support', 'seccomp');
    default:
      throw new LaunchError(`unknown seccomp action "${action}"`, 'seccomp');
  }
}

// ---- code generation with symbolic jump targets -----------------------------

type Target = number | string; // relative offset, or a label resolved at the end
interface SymInsn {
  code: number;
  jt: Target;
  jf: Target;
  k: number;
}

class Emitter {
  readonly insns: SymInsn[] = [];
  readonly labels = new Map<string, number>();
  private n = 0;

  label(): string {
    return `L${this.n++}`;
  }
  place(label: string): void {
    this.labels.set(label, this.insns.length);
  }
  emit(code: number, k: number, jt: Target = 0, jf: Target = 0): void {
    this.insns.push({ code, jt, jf, k: k >>> 0 });
  }
  ld(off: number): void {
    this.emit(BPF.LD_W_ABS, off);
  }
  ret(value: number): void {
    this.emit(BPF.RET_K, value);
  }
  jump(label: string): void {
    this.emit(BPF.JMP_JA, 0, label, 0); // jt holds the label; resolved into k
  }

  resolve(): Insn[] {
    return this.insns.map((ins, i) => {
      const rel = (t: Target): number => {
        if (typeof t === 'number') return t;
        const at = this.labels.get(t);
        if (at === undefined) throw new Error(`seccomp: unplaced label ${t}`);
        const off = at - (i + 1);
        if (off < 0) throw new Error('seccomp: backward jump');
        return off;
      };
      if (ins.code === BPF.JMP_JA) return { code: ins.code, jt: 0, jf: 0, k: rel(ins.jt) };
      const jt = rel(ins.jt);
      const jf = rel(ins.jf);
      if (jt > 255 || jf > 255) throw new Error('seccomp: conditional jump too long');
      return { code: ins.code, jt, jf, k: ins.k };
    });
  }
}

interface Cond {
  index: number;
  value: bigint;
  valueTwo: bigint;
  op: string;
}

const U64 = (1n << 64n) - 1n;
const hi32 = (v: bigint) => Number((v >> 32n) & 0xffffffffn);
const lo32 = (v: bigint) => Number(v & 0xffffffffn);

function toU64(n: number | undefined, what: string): bigint {
  if (n === undefined) return 0n;
  if (!Number.isInteger(n)) throw new LaunchError(`seccomp argument ${what} ${n} is not an integer`, 'seccomp');
  return BigInt(n) & U64; // negative values compare as their two's complement, as in libseccomp
}

/** Emits the test of one argument condition: falls through when it holds, jumps to `fail` when not. */
function emitCond(e: Emitter, c: Cond, fail: string): void {
  const pass = e.label();
  const vh = hi32(c.value);
  const vl = lo32(c.value);
  switch (c.op) {
    case 'SCMP_CMP_EQ':
      e.ld(argHi(c.index));
      e.emit(BPF.JEQ_K, vh, 0, fail);
      e.ld(argLo(c.index));
      e.emit(BPF.JEQ_K, vl, 0, fail);
      break;
    case 'SCMP_CMP_NE':
      e.ld(argHi(c.index));
      e.emit(BPF.JEQ_K, vh, 0, pass);
      e.ld(argLo(c.index));
      e.emit(BPF.JEQ_K, vl, fail, pass);
      break;
    case 'SCMP_CMP_GT':
    case 'SCMP_CMP_GE':
      e.ld(argHi(c.index));
      e.emit(BPF.JGT_K, vh, pass, 0);
      e.emit(BPF.JEQ_K, vh, 0, fail);
      e.ld(argLo(c.index));
      e.emit(c.op === 'SCMP_CMP_GT' ? BPF.JGT_K : BPF.JGE_K, vl, pass, fail);
      break;
    case 'SCMP_CMP_LT':
    case 'SCMP_CMP_LE':
      e.ld(argHi(c.index));
      e.emit(BPF.JGE_K, vh, 0, pass); // hi < vh
      e.emit(BPF.JEQ_K, vh, 0, fail); // hi > vh
      e.ld(argLo(c.index));
      e.emit(c.op === 'SCMP_CMP_LT' ? BPF.JGE_K : BPF.JGT_K, vl, fail, pass);
      break;
    case 'SCMP_CMP_MASKED_EQ': {
      // OCI: value is the mask, valueTwo the expected result.
      const mh = hi32(c.value);
      const ml = lo32(c.value);
      e.ld(argHi(c.index));
      e.emit(BPF.ALU_AND_K, mh);
      e.emit(BPF.JEQ_K, hi32(c.valueTwo), 0, fail);
      e.ld(argLo(c.index));
      e.emit(BPF.ALU_AND_K, ml);
      e.emit(BPF.JEQ_K, lo32(c.valueTwo), 0, fail);
      break;
    }
    default:
      throw new LaunchError(`unknown seccomp comparison "${c.op}"`, 'seccomp');
  }
  e.place(pass);
}

/** One compiled rule: a syscall number, conditions that must all hold, an action. */
interface Rule {
  nr: number;
  conds: Cond[];
  action: number;
}

/**
 * Rules of one architecture, in profile order. Several conditions on the
 * same argument index are alternatives (runc adds them as separate rules);
 * conditions on different indexes must all hold.
 */
function rulesFor(syscalls: SeccompSyscall[], table: Readonly<Record<string, number>>, defaultAction: number): Rule[] {
  const rules: Rule[] = [];
  for (const sc of syscalls) {
    const action = actionValue(sc.action, sc.errnoRet);
    if (action === defaultAction) continue; // same as the default: nothing to add (runc skips these too)
    const conds: Cond[] = (sc.args ?? []).map((a) => {
      if (!Number.isInteger(a.index) || a.index < 0 || a.index > 5) throw new LaunchError(`seccomp argument index ${a.index} is not 0-5`, 'seccomp');
      return { index: a.index, value: toU64(a.value, 'value'), valueTwo: toU64(a.valueTwo, 'valueTwo'), op: a.op };
    });
    const sameIndex = conds.length > 1 && conds.every((c) => c.index === conds[0]!.index);
    const alternatives = sameIndex ? conds.map((c) => [c]) : [conds];
    for (const name of sc.names ?? []) {
      const nr = table[name];
      if (nr === undefined) continue;
      for (const alt of alternatives) rules.push({ nr, conds: alt, action });
    }
  }
  return rules;
}

/**
 * What a run of syscall numbers gets: one action for all of them (numbers without rules get the
 * default), or, for a single number with conditional rules, those rules in profile order.
 */
type Outcome = { action: number } | { rules: Rule[] };
interface NrRange {
  first: number; // the range ends where the next one begins
  outcome: Outcome;
}

/**
 * Splits the syscall numbers from 0 up into ranges with one outcome each, merging neighbours
 * that return the same action. Rules of different numbers never both match, so grouping the
 * rules by number (profile order within a number) keeps "first match wins".
 */
function rangesOf(rules: Rule[], defaultAction: number): NrRange[] {
  const byNr = new Map<number, Rule[]>();
  for (const r of rules) {
    const group = byNr.get(r.nr);
    if (group) group.push(r);
    else byNr.set(r.nr, [r]);
  }
  const ranges: NrRange[] = [];
  const add = (first: number, outcome: Outcome) => {
    const last = ranges[ranges.length - 1];
    if (last && 'action' in last.outcome && 'action' in outcome && last.outcome.action === outcome.action) return;
    ranges.push({ first, outcome });
  };
  let next = 0;
  for (const nr of [...byNr.keys()].sort((a, b) => a - b)) {
    if (nr > next) add(next, { action: defaultAction });
    const group = byNr.get(nr)!;
    // An unconditional rule decides its number: the rules after it are never reached.
    const decided = group.findIndex((r) => r.conds.length === 0);
    add(nr, decided === 0 ? { action: group[0]!.action } : { rules: decided > 0 ? group.slice(0, decided + 1) : group });
    next = nr + 1;
  }
  add(next, { action: defaultAction });
  return ranges;
}

/** The rules of one number in profile order (A holds an argument after a failed test; the number is known). */
function emitNumberRules(e: Emitter, rules: Rule[], defaultAction: number): void {
  for (const r of rules) {
    const next = e.label();
    for (const c of r.conds) emitCond(e, c, next);
    e.ret(r.action);
    e.place(next);
  }
  if (rules[rules.length - 1]!.conds.length > 0) e.ret(defaultAction);
}

const MAX_COND_JUMP = 255;

/**
 * A binary search on the syscall number (in A) over the ranges: a few comparisons per call
 * instead of one per listed syscall (Docker's profile lists ~350), which the kernel pays at every
 * system call of the container. The lower half follows each comparison; the upper half is
 * reached by the comparison's own jump when the lower half is short enough, else through a ja.
 * Every leaf in the tree is one instruction (a ret, or a ja to a number's rules, placed after
 * the tree), so a subtree's size follows from its number of ranges alone.
 */
function emitRules(e: Emitter, rules: Rule[], defaultAction: number): void {
  const ranges = rangesOf(rules, defaultAction);
  const outOfLine: { label: string; rules: Rule[] }[] = [];
  const treeSize = (lo: number, hi: number): number => {
    if (lo === hi) return 1;
    const mid = (lo + hi + 1) >> 1;
    const lower = treeSize(lo, mid - 1);
    return (lower <= MAX_COND_JUMP ? 1 : 2) + lower + treeSize(mid, hi);
  };
  const emitTree = (lo: number, hi: number): void => {
    if (lo === hi) {
      const outcome = ranges[lo]!.outcome;
      if ('action' in outcome) {
        e.ret(outcome.action);
      } else {
        const label = e.label();
        outOfLine.push({ label, rules: outcome.rules });
        e.jump(label);
      }
      return;
    }
    const mid = (lo + hi + 1) >> 1;
    const upper = e.label();
    if (treeSize(lo, mid - 1) <= MAX_COND_JUMP) {
      e.emit(BPF.JGE_K, ranges[mid]!.first, upper, 0);
    } else {
      e.emit(BPF.JGE_K, ranges[mid]!.first, 0, 1);
      e.jump(upper);
    }
    emitTree(lo, mid - 1);
    e.place(upper);
    emitTree(mid, hi);
  };
  emitTree(0, ranges.length - 1);
  for (const { label, rules: numberRules } of outOfLine) {
    e.place(label);
    emitNumberRules(e, numberRules, defaultAction);
  }
}

/** The BPF program of a profile, as instructions (for tests) . */
export function compileSeccompInsns(profile: Seccomp): Insn[] {
  const defaultAction = actionValue(profile.defaultAction, profile.defaultErrnoRet);
  // Foreign ABIs get the default's errno, else are killed: an allow-by-default
  // profile must not be bypassed through int 0x80.
  const badArch = (defaultAction & 0xffff0000) >>> 0 === SECCOMP_RET.ERRNO ? defaultAction : SECCOMP_RET.KILL_PROCESS;
  const archs = profile.architectures?.length ? profile.architectures : ['SCMP_ARCH_X86_64'];
  for (const a of archs) {
    if (!['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_NATIVE'].includes(a)) {
      // Profiles list other architectures for portability (Docker's lists arm too); they cannot occur here.
      if (!/^SCMP_ARCH_[A-Z0-9_]+$/.test(a)) throw new LaunchError(`unknown seccomp architecture "${a}"`, 'seccomp');
    }
  }
  const syscalls = profile.syscalls ?? [];
  const e = new Emitter();
  const other = e.label();
  const bad = e.label();
  e.ld(OFF_ARCH);
  // Conditional jumps reach 255 instructions at most: far targets go through ja.
  e.emit(BPF.JEQ_K, AUDIT_ARCH_X86_64, 1, 0);
  e.jump(other);
  e.ld(OFF_NR);
  e.emit(BPF.JGE_K, X32_SYSCALL_BIT, 0, 1);
  e.jump(bad);
  emitRules(e, rulesFor(syscalls, SYSCALLS_X86_64, defaultAction), defaultAction);
  e.place(other);
  if (archs.includes('SCMP_ARCH_X86')) {
    e.emit(BPF.JEQ_K, AUDIT_ARCH_I386, 1, 0);
    e.jump(bad);
    e.ld(OFF_NR);
    emitRules(e, rulesFor(syscalls, SYSCALLS_I386, defaultAction), defaultAction);
  }
  e.place(bad);
  e.ret(badArch);
  const insns = e.resolve();
  if (insns.length > 4096) throw new LaunchError(`seccomp profile compiles to ${insns.length} BPF instructions (the kernel allows 4096)`, 'seccomp');
  return insns;
}

/** struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; } little endian. */
export function encodeInsns(insns: Insn[]): Buffer {
  const b = Buffer.alloc(insns.length * 8);
  // A DataView, not Buffer's write methods: this runs once per start, cold, where those cost ~1 ms.
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < insns.length; i++) {
    const ins = insns[i]!;
    view.setUint16(i * 8, ins.code, true);
    view.setUint8(i * 8 + 2, ins.jt);
    view.setUint8(i * 8 + 3, ins.jf);
    view.setUint32(i * 8 + 4, ins.k >>> 0, true);
  }
  return b;
}

/** Program bytes and SECCOMP_FILTER_FLAG_* bits for the helper's seccomp step. */
export function compileSeccomp(profile: Seccomp): SeccompProgram {
  let flags = 0;
  for (const f of profile.flags ?? []) {
    const bit = FILTER_FLAGS[f];
    if (bit === undefined) throw new LaunchError(`unknown seccomp flag "${f}"`, 'seccomp');
    flags |= bit;
  }
  try {
    return { bytes: encodeInsns(compileSeccompInsns(profile)), flags };
  } catch (err) {
    if (err instanceof LaunchError) throw err;
    throw new LaunchError(`cannot compile the seccomp profile: ${(err as Error).message}`, 'seccomp', { cause: err });
  }
}
