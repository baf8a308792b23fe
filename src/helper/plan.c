/* Parsing of the launch plan (format in PLAN.md). The whole plan is parsed
 * and checked before any step runs, so a malformed plan changes nothing. */
#include "helper.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The vocabulary of the plan: name, phase, number of arguments. */
static const struct op OPS[] = {
    /* monitor settings */
    {"lock-file", PHASE_CONFIG, 1, 1},
    {"exit-file", PHASE_CONFIG, 1, 1},
    {"pid-file", PHASE_CONFIG, 1, 1},
    {"started-file", PHASE_CONFIG, 1, 1},
    {"log-file", PHASE_CONFIG, 1, 1},
    {"exec-fifo", PHASE_CONFIG, 1, 1},
    {"detach", PHASE_CONFIG, 0, 0},
    {"new-session", PHASE_CONFIG, 0, 0},
    {"caller-lock", PHASE_CONFIG, 1, 1},
    {"caller-stdio", PHASE_CONFIG, 0, 0},
    {"stdin", PHASE_CONFIG, 0, 0},
    {"terminal", PHASE_CONFIG, 0, 0},
    {"console-size", PHASE_CONFIG, 2, 2},
    {"console-socket", PHASE_CONFIG, 1, 1},
    {"console-receive", PHASE_CONFIG, 1, 1}, /* runtime-create: the runtime sends the pty master here */
    {"inherit-stdio", PHASE_CONFIG, 0, 0},
    {"preserve-fds", PHASE_CONFIG, 1, 1},
    {"no-monitor", PHASE_CONFIG, 0, 0},
    {"die-with-monitor", PHASE_CONFIG, 0, 0},
    {"exit-command", PHASE_CONFIG, 1, -1},
    {"attach-socket", PHASE_CONFIG, 1, 1},
    /* setup process */
    {"setns", PHASE_PRECLONE, 2, 2},
    {"clone", PHASE_PRECLONE, 1, 1},
    {"runtime-create", PHASE_PRECLONE, 2, -1}, /* PIDFILE ARGV...: an OCI runtime makes the container */
    /* monitor, once the container's pid is known */
    {"uid-map", PHASE_PARENT, 3, 3},
    {"gid-map", PHASE_PARENT, 3, 3},
    {"cgroup-procs", PHASE_PARENT, 1, 1},
    /* container process */
    {"unshare-cgroupns", PHASE_INIT, 0, 0},
    {"propagation", PHASE_INIT, 2, 2},
    {"rootfs", PHASE_INIT, 1, 1},
    {"mkdirs", PHASE_INIT, 2, 2},
    {"mkfile", PHASE_INIT, 1, 1},
    {"mount", PHASE_INIT, 5, 5},
    {"remount", PHASE_INIT, 2, 2},
    {"mknod", PHASE_INIT, 7, 7},
    {"symlink", PHASE_INIT, 2, 2},
    {"mask", PHASE_INIT, 1, 1},
    {"readonly", PHASE_INIT, 1, 1},
    {"pivot-root", PHASE_INIT, 0, 0},
    {"console", PHASE_INIT, 0, 0},
    {"hostname", PHASE_INIT, 1, 1},
    {"loopback-up", PHASE_INIT, 0, 0},
    {"domainname", PHASE_INIT, 1, 1},
    {"sysctl", PHASE_INIT, 2, 2},
    {"rlimit", PHASE_INIT, 3, 3},
    {"oom-score-adj", PHASE_INIT, 1, 1},
    {"cap-bounding", PHASE_INIT, 1, 1},
    {"keep-caps", PHASE_INIT, 0, 0},
    {"user", PHASE_INIT, 3, 3},
    {"caps", PHASE_INIT, 3, 3},
    {"ambient", PHASE_INIT, 1, 1},
    {"no-new-privs", PHASE_INIT, 0, 0},
    {"seccomp", PHASE_INIT, 2, 2},
    {"chdir", PHASE_INIT, 1, 1},
    {"umask", PHASE_INIT, 1, 1},
    {"args", PHASE_INIT, 1, -1},
    {"env", PHASE_INIT, 0, -1},
    {"lookup-command", PHASE_INIT, 0, 0},
    {"wait-start", PHASE_INIT, 0, 0},
    {"exec", PHASE_INIT, 0, 0},
};

const struct op *op_lookup(const char *name) {
  for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++)
    if (strcmp(OPS[i].name, name) == 0) return &OPS[i];
  return NULL;
}

int parse_u64(const char *s, int base, uint64_t *out) {
  if (!*s || *s == '-' || *s == '+' || *s == ' ') return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, base);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

int parse_i64(const char *s, int64_t *out) {
  if (!*s || *s == ' ' || *s == '+') return -1;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

/* Reads one netstring "<len>:<bytes>," at *pos. */
static int take(const char *buf, size_t len, size_t *pos, const char **data, size_t *dlen) {
  size_t p = *pos, n = 0, digits = 0;
  while (p < len && buf[p] >= '0' && buf[p] <= '9') {
    if (++digits > 9) return -1;
    n = n * 10 + (size_t)(buf[p++] - '0');
  }
  if (digits == 0 || p >= len || buf[p] != ':') return -1;
  p++;
  if (n > len - p || p + n >= len || buf[p + n] != ',') return -1;
  *data = buf + p;
  *dlen = n;
  *pos = p + n + 1;
  return 0;
}

int plan_parse(const char *buf, size_t len, struct plan *out, char *err, size_t errlen) {
  size_t pos = 0, dlen;
  const char *d;
  if (take(buf, len, &pos, &d, &dlen) || dlen != strlen(PLAN_MAGIC) || memcmp(d, PLAN_MAGIC, dlen)) {
    snprintf(err, errlen, "plan does not start with %s", PLAN_MAGIC);
    return -1;
  }
  out->steps = calloc(PLAN_MAX_STEPS, sizeof(struct step));
  out->nsteps = 0;
  if (!out->steps) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  enum phase last = PHASE_CONFIG;
  int clones = 0, runtime_creates = 0, own_steps = 0;
  while (pos < len) {
    if (out->nsteps == PLAN_MAX_STEPS) {
      snprintf(err, errlen, "more than %d steps", PLAN_MAX_STEPS);
      return -1;
    }
    char name[64];
    if (take(buf, len, &pos, &d, &dlen) || dlen >= sizeof name) {
      snprintf(err, errlen, "step %d: bad step name", out->nsteps);
      return -1;
    }
    memcpy(name, d, dlen);
    name[dlen] = 0;
    const struct op *op = op_lookup(name);
    if (!op) {
      snprintf(err, errlen, "step %d: unknown step \"%s\"", out->nsteps, name);
      return -1;
    }
    if (op->phase < last) {
      snprintf(err, errlen, "step %d (%s): out of phase order", out->nsteps, name);
      return -1;
    }
    last = op->phase;
    if (strcmp(name, "clone") == 0) clones++;
    if (strcmp(name, "runtime-create") == 0) runtime_creates++;
    if (op->phase >= PHASE_PARENT || strcmp(name, "setns") == 0) own_steps++;
    uint64_t argc;
    char num[16];
    if (take(buf, len, &pos, &d, &dlen) || dlen == 0 || dlen >= sizeof num) {
      snprintf(err, errlen, "step %d (%s): bad argument count", out->nsteps, name);
      return -1;
    }
    memcpy(num, d, dlen);
    num[dlen] = 0;
    if (parse_u64(num, 10, &argc) || argc > STEP_MAX_ARGS || (int)argc < op->min_args ||
        (op->max_args >= 0 && (int)argc > op->max_args)) {
      snprintf(err, errlen, "step %d (%s): wrong number of arguments %s", out->nsteps, name, num);
      return -1;
    }
    struct step *s = &out->steps[out->nsteps++];
    s->op = op;
    s->argc = (int)argc;
    s->argv = calloc(argc + 1, sizeof(char *));
    s->lens = calloc(argc + 1, sizeof(size_t));
    if (!s->argv || !s->lens) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    for (uint64_t i = 0; i < argc; i++) {
      if (take(buf, len, &pos, &d, &dlen)) {
        snprintf(err, errlen, "step %d (%s): bad argument %d", out->nsteps - 1, name, (int)i);
        return -1;
      }
      if (memchr(d, 0, dlen)) {
        snprintf(err, errlen, "step %d (%s): NUL inside argument %d", out->nsteps - 1, name, (int)i);
        return -1;
      }
      s->argv[i] = malloc(dlen + 1);
      if (!s->argv[i]) {
        snprintf(err, errlen, "out of memory");
        return -1;
      }
      memcpy(s->argv[i], d, dlen);
      s->argv[i][dlen] = 0;
      s->lens[i] = dlen;
    }
  }
  if (clones + runtime_creates != 1) {
    snprintf(err, errlen, "the plan must have exactly one clone or runtime-create step (has %d)", clones + runtime_creates);
    return -1;
  }
  /* The runtime joins namespaces, maps ids, moves cgroups and sets up the process itself. */
  if (runtime_creates && own_steps) {
    snprintf(err, errlen, "a runtime-create plan has no setns, parent or init steps (has %d)", own_steps);
    return -1;
  }
  return 0;
}
