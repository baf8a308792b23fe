/* tsrun-helper entry point.
 *   tsrun-helper launch          reads a plan from fd 3, reports on fd 4 (PLAN.md)
 *   tsrun-helper backoff MS ARGV holds fd 3 while it sleeps MS ms, then while ARGV runs
 *   tsrun-helper version         prints the plan format it speaks */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A restart policy's wait, in a process of a few hundred kB rather than a Node process of
 * ~45 MB: fd 3 is a lock the caller took (its holder is what makes the container read as
 * "restarting"). Sleep, then run ARGV, which decides and starts, and hold the lock until it
 * is done. ARGV does not inherit the lock. The delay and the command are the caller's. */
static int backoff(int argc, char **argv) {
  char *end;
  errno = 0;
  long long ms = strtoll(argv[2], &end, 10);
  if (errno || *end || ms < 0 || ms > 24LL * 3600 * 1000 || argc < 4) {
    fprintf(stderr, "usage: tsrun-helper backoff MS ARGV...  (fd 3: the lock to hold)\n");
    return 2;
  }
  if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0) {
    perror("tsrun-helper backoff: fd 3");
    return 2;
  }
  struct timespec left = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&left, &left) < 0 && errno == EINTR) {}
  pid_t pid = fork();
  if (pid < 0) {
    perror("tsrun-helper backoff: fork");
    return 1;
  }
  if (pid == 0) {
    execv(argv[3], argv + 3);
    _exit(127);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

static char *read_plan(size_t *len) {
  size_t cap = 65536, used = 0;
  char *buf = malloc(cap);
  if (!buf) return NULL;
  for (;;) {
    if (used == cap) {
      if (cap >= PLAN_MAX_BYTES) {
        errno = EFBIG;
        return NULL;
      }
      cap *= 2;
      char *nb = realloc(buf, cap);
      if (!nb) return NULL;
      buf = nb;
    }
    ssize_t n = read(PLAN_FD, buf + used, cap - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return NULL;
    if (n == 0) break;
    used += (size_t)n;
  }
  *len = used;
  return buf;
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "version")) {
    puts(PLAN_MAGIC);
    return 0;
  }
  if (argc >= 3 && !strcmp(argv[1], "backoff")) return backoff(argc, argv);
  if (argc != 2 || strcmp(argv[1], "launch")) {
    fprintf(stderr, "usage: tsrun-helper launch  (plan on fd 3, status on fd 4)\n");
    return 2;
  }
  size_t len;
  char *buf = read_plan(&len);
  if (!buf) {
    report_error("read-plan", errno, "fd 3");
    return 1;
  }
  close(PLAN_FD);
  struct plan plan;
  char err[512];
  if (plan_parse(buf, len, &plan, err, sizeof err)) {
    report_error("parse-plan", EINVAL, err);
    return 1;
  }
  free(buf);
  return monitor_main(&plan);
}
