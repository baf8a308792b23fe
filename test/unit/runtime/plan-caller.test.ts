// The plan's say on where an attached monitor stands towards its caller: its own session
// (new-session) and who acts on the container's exit (caller-lock with the exit command).
import { describe, expect, it } from 'vitest';
import { LaunchError } from '../../../src/errors.js';
import { compilePlan, decodePlan, encodePlan, type MonitorConfig, type PlanHost, type PlanStep } from '../../../src/runtime/plan.js';
import { defaultSpec } from '../../support/rootfs.js';

const monitor: MonitorConfig = {
  lockFile: '/run/x/lock', exitFile: '/run/x/exit.json', pidFile: '/run/x/pid', startedFile: '/run/x/started',
  detach: false, stdin: false, terminal: false,
};
const host: PlanHost = { cgroupProcs: [], rootfs: '/b/rootfs', bundle: '/b', isDirectory: () => true };
const spec = () => defaultSpec('rootfs', ['echo', 'hi']);
const find = (steps: PlanStep[], op: string) => steps.filter((s) => s.op === op);
const exitCommand = ['/usr/bin/node', '/cli.cjs', 'container', 'cleanup', 'ID'];

describe('an attached monitor and its caller', () => {
  it('stays in the caller\'s session unless asked, and never with detach (which has a session of its own)', () => {
    expect(find(compilePlan(spec(), monitor, host), 'new-session')).toEqual([]);
    expect(find(compilePlan(spec(), { ...monitor, newSession: true }, host), 'new-session')).toHaveLength(1);
    expect(find(compilePlan(spec(), { ...monitor, newSession: true, detach: true }, host), 'new-session')).toEqual([]);
  });

  it('gives up the caller\'s stdio at its death only when asked, attached and relaying', () => {
    expect(find(compilePlan(spec(), monitor, host), 'caller-stdio')).toEqual([]);
    const steps = compilePlan(spec(), { ...monitor, callerStdio: true }, host);
    expect(find(steps, 'caller-stdio')).toEqual([{ op: 'caller-stdio', args: [] }]);
    expect(decodePlan(encodePlan(steps))).toEqual(steps);
    for (const other of [{ detach: true }, { noMonitor: true }, { inheritStdio: true }]) {
      expect(find(compilePlan(spec(), { ...monitor, callerStdio: true, ...other }, host), 'caller-stdio')).toEqual([]);
    }
  });

  it('runs an exit command only with the caller\'s lock, which the exit command comes with', () => {
    expect(() => compilePlan(spec(), { ...monitor, exitCommand }, host)).toThrow(LaunchError);
    const steps = compilePlan(spec(), { ...monitor, exitCommand, callerLock: '/run/x/caller.lock' }, host);
    expect(find(steps, 'exit-command')[0]!.args).toEqual(exitCommand);
    expect(find(steps, 'caller-lock')[0]!.args).toEqual(['/run/x/caller.lock']);
    expect(decodePlan(encodePlan(steps))).toEqual(steps);
  });

  it('detached, the exit command always runs: no caller lock', () => {
    const steps = compilePlan(spec(), { ...monitor, detach: true, exitCommand, callerLock: '/run/x/caller.lock' }, host);
    expect(find(steps, 'exit-command')).toHaveLength(1);
    expect(find(steps, 'caller-lock')).toEqual([]);
    expect(find(compilePlan(spec(), { ...monitor, callerLock: '/run/x/caller.lock' }, host), 'caller-lock')).toEqual([]);
  });
});
