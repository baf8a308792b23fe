/* tsrun-helper entry point.
 *   tsrun-helper launch   reads a plan from fd 3, reports on fd 4 (PLAN.md)
 *   tsrun-helper version  prints the plan format it speaks */
#include "helper.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
