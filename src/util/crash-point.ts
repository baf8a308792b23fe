// Test-only crash points. With TSRUN_TEST_CRASH_AT=<point> in its environment, tsrun
// kills itself with SIGKILL when it reaches that point, so that an integration test
// can stop it at an exact moment (a real kill -9, no cleanup runs) and then check that
// the next commands repair what it left. Unset (always, outside tests) it costs one
// environment lookup.
//
// Points:
//   after-volume-mount   container start: the volumes with mount options are mounted
//                        (and filled by copy-up), the container is not started yet
//   after-container-exit foreground run: the monitor has exited, the container's exit is
//                        neither recorded nor acted on (--rm) yet
//   after-cgroup-create  launcher: the container's cgroup exists, the launcher's state
//                        that names it does not yet

export type CrashPoint = 'after-volume-mount' | 'after-container-exit' | 'after-cgroup-create';

export const CRASH_AT_ENV = 'TSRUN_TEST_CRASH_AT';

export function crashPoint(point: CrashPoint): void {
  if (process.env[CRASH_AT_ENV] === point) process.kill(process.pid, 'SIGKILL');
}
