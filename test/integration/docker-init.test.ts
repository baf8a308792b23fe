// --init: an init (the host's tini-static, as Docker's docker-init) runs as PID 1, reaps the
// orphans it inherits and forwards signals to the app. Each check is paired with the same
// container without --init, where the behaviour differs, so the test can fail.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { TsrunCli } from '../support/tsrun-cli.js';
import { usePulledBusybox } from '../support/pulled-busybox.js';
import { waitFor } from '../support/wait.js';

let cli: TsrunCli;
let image: string;
usePulledBusybox((env) => ({ cli, image } = env));

const ok = (args: string[]) => cli.ok(args);

/** Process states in the container (busybox ps), e.g. "Z sleep". */
function processStates(name: string): string[] {
  return ok(['exec', name, 'ps', '-o', 'stat,comm'])
    .split('\n')
    .slice(1)
    .map((l) => l.trim().replace(/\s+/g, ' '))
    .filter(Boolean);
}

describe('run --init', () => {
  it('reaps an orphan that a PID 1 without init leaves a zombie', async () => {
    // The subshell exits at once, so its `sleep 0.2` is orphaned to PID 1; then the app
    // execs a sleep that never waits. Without an init that sleep is PID 1 and the orphan stays a zombie.
    const app = ['sh', '-c', '(sleep 0.2 &); exec sleep 600'];
    ok(['run', '-d', '--name', 'noinit', image, ...app]);
    ok(['run', '-d', '--init', '--name', 'withinit', image, ...app]);
    const sleeps = (name: string) => processStates(name).filter((s) => s.endsWith(' sleep'));
    await waitFor(() => sleeps('noinit').length === 2 && sleeps('noinit').some((s) => s.startsWith('Z')), 'the orphan a zombie without init');
    expect(processStates('noinit').filter((s) => s.startsWith('Z'))).toEqual(['Z sleep']);
    // Under init the orphan is gone once it exits: only the app's sleep is left.
    await waitFor(() => sleeps('withinit').length === 1, 'the orphan reaped under init');
    const withInit = processStates('withinit');
    expect(withInit.filter((s) => s.startsWith('Z'))).toEqual([]);
    expect(withInit.some((s) => s.endsWith('docker-init'))).toBe(true);
    ok(['rm', '-f', 'noinit', 'withinit']);
  });

  it('forwards signals to the app: a trap sees USR1, and TERM ends an app with no handler', async () => {
    const trap = ['sh', '-c', 'trap "echo got-USR1" USR1; echo ready; while :; do sleep 0.1; done'];
    ok(['run', '-d', '--init', '--name', 'trapper', image, ...trap]);
    await waitFor(() => ok(['logs', 'trapper']).includes('ready'), 'trapper ready');
    // Under init the shell is not PID 1: the signal only reaches it through the init.
    expect(ok(['exec', 'trapper', 'sh', '-c', 'cat /proc/1/comm'])).toBe('docker-init\n');
    ok(['kill', '-s', 'USR1', 'trapper']);
    await waitFor(() => ok(['logs', 'trapper']).includes('got-USR1'), 'the trap ran');
    ok(['rm', '-f', 'trapper']);

    // `sleep` has no TERM handler: as PID 1 the kernel drops the signal; under init it dies of it.
    ok(['run', '-d', '--name', 'bare', image, 'sleep', '600']);
    ok(['run', '-d', '--init', '--name', 'inited', image, 'sleep', '600']);
    ok(['kill', '-s', 'TERM', 'bare']);
    ok(['kill', '-s', 'TERM', 'inited']);
    expect(ok(['wait', 'inited'])).toBe('143\n');
    await sleep(500);
    expect(ok(['inspect', '--format', '{{.State.Running}}', 'bare'])).toBe('true\n');
    ok(['rm', '-f', 'bare', 'inited']);
  });
});
