/*
 * tsrun-cgroup-warm: started by bin/tsrun (and bin/tsrkt) for a command line that will start a
 * container, before Node itself starts. It begins the kernel's wait for the cgroup migration
 * lock (an RCU grace period, 6-20 ms here; see src/cgroup/lock-warmer.ts) while Node boots,
 * instead of after: the addon's warming thread, started ~17 ms later by the CLI's entry, then
 * finds the lock warm and keeps it so until the container has joined its cgroups.
 *
 * The shell starts it in the background and execs Node, which reaps it (hack/cli-entry.cjs). It
 * writes "0" (itself) to its own cgroup's cgroup.procs while it holds the host-wide writer lock,
 * again every 5 ms, and ends after WARM_MS or with the CLI. Anything that does not work (no cgroup2, not root,
 * another writer) just ends it: it is only a head start.
 */
#define _GNU_SOURCE
#include "cgroup_own.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

/* Long enough for Node to start and the CLI's own warming thread (which waits for the writer
 * lock) to take over; short enough to be gone before the container runs, so that it never
 * warms the lock for whatever the host starts next. */
#define WARM_MS 40

int main(void) {
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* not past the CLI (a usage error ends it at once) */
  if (getppid() == 1) return 0;   /* it ended already */
  char file[4096];
  if (!own_unified_procs_file_now(file, sizeof file)) return 0;
  int lock = open(WRITER_LOCK, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) != 0) return 0; /* another process keeps it warm */
  int fd = open(file, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || !is_cgroup_file(fd)) return 0;
  struct timespec start, now;
  const struct timespec pause = {0, REWRITE_EVERY_NS};
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    if (pwrite(fd, "0", 1, 0) != 1) return 0;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >= WARM_MS) return 0;
    nanosleep(&pause, NULL);
  }
}
