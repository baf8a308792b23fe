// OCI lifecycle hooks: each hook runs with the container's state JSON on its
// stdin and must finish within its timeout. Hooks "in the container
// namespace" (createContainer, startContainer) are entered with nsenter.
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { LaunchError } from '../errors.js';
import type { Hook, Hooks, NamespaceType, State } from '../oci/runtime.js';
import { NS_PROC_NAME, SETNS_ORDER } from './plan.js';

export type HookKind = keyof Hooks;

/** nsenter's flag for each namespace type. */
const NSENTER_FLAG: Record<NamespaceType, string> = {
  mount: '-m', uts: '-u', ipc: '-i', network: '-n', pid: '-p', cgroup: '-C', user: '-U', time: '-T',
};

/** nsenter arguments joining every namespace of pid that differs from ours, with its root and cwd. */
export function nsenterArgs(pid: number): string[] {
  const flags: string[] = [];
  for (const type of SETNS_ORDER) {
    const name = NS_PROC_NAME[type];
    try {
      if (statSync(`/proc/${pid}/ns/${name}`).ino !== statSync(`/proc/self/ns/${name}`).ino) flags.push(NSENTER_FLAG[type]);
    } catch {
      /* a namespace type this kernel lacks */
    }
  }
  return ['-t', String(pid), ...flags, '-r', '-w', '--'];
}

function envObject(env: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env) {
    const eq = e.indexOf('=');
    if (eq > 0) out[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return out;
}

/** Runs one hook; rejects with a LaunchError naming the hook on failure or timeout. */
export function runHook(kind: HookKind, hook: Hook, state: State, inContainer = false): Promise<void> {
  const argv = hook.args?.length ? hook.args : [hook.path];
  let file = hook.path;
  let args = argv.slice(1);
  if (inContainer && state.pid) {
    file = 'nsenter';
    args = [...nsenterArgs(state.pid), hook.path, ...args];
  }
  const what = `${kind} hook ${hook.path}`;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      argv0: inContainer ? 'nsenter' : argv[0],
      env: envObject(hook.env ?? []),
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    let timedOut = false;
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString();
    });
    child.stdin!.on('error', () => {}); // a hook need not read its stdin
    child.stdin!.end(JSON.stringify(state));
    const timer =
      hook.timeout !== undefined && hook.timeout > 0
        ? setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, hook.timeout * 1000)
        : undefined;
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new LaunchError(`${what} cannot run: ${err.message}`, kind, { cause: err }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return reject(new LaunchError(`${what} timed out after ${hook.timeout}s`, kind));
      if (code === 0) return resolve();
      const why = signal ? `was killed by ${signal}` : `exited with status ${code}`;
      reject(new LaunchError(`${what} ${why}${stderr.trim() ? `: ${stderr.trim()}` : ''}`, kind));
    });
  });
}

/** Runs the hooks of one kind in order; the first failure stops them. */
export async function runHooks(kind: HookKind, hooks: Hooks | undefined, state: State, inContainer = false): Promise<void> {
  for (const h of hooks?.[kind] ?? []) await runHook(kind, h, state, inContainer);
}

/** True when any hook must run between create and start (so `run` must take the create/start path). */
export function hasStartGateHooks(hooks: Hooks | undefined): boolean {
  return !!(hooks?.prestart?.length || hooks?.createRuntime?.length || hooks?.createContainer?.length || hooks?.startContainer?.length || hooks?.poststart?.length);
}
