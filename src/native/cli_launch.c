/*
 * tsrun-launch: the program behind bin/tsrun, bin/tsrkt and bin/tsrun-oci (symlinks to
 * build/<cli>, hard links of this one program). It starts the CLI's bundle with Node, as a shell
 * script did: `node dist/<cli>.cjs -- ARGS`, Node found on PATH. Without a shell to start it is
 * ~0.4 ms sooner, and through npm's bin symlinks ~0.8 ms more (the script ran readlink to find
 * its checkout; the kernel names this program in /proc/self/exe).
 *
 * Two things happen before Node:
 * - NODE_EXTRA_CA_CERTS moves aside to TSRUN_EXTRA_CA_CERTS: Node parses it at every start (~35 ms
 *   on these machines), even for commands that never use TLS; tsrun loads it on first TLS use.
 * - A command line that may start a container forks the cgroup lock's head start. It writes "0"
 *   (itself) to its own cgroup's cgroup.procs while it holds the host-wide writer lock, again every
 *   5 ms, for WARM_MS or until the CLI ends, so that the kernel's wait for its cgroup migration lock
 *   (an RCU grace period, 6-20 ms here; see src/cgroup/lock-warmer.ts) passes while Node boots. The
 *   CLI's entry reaps it (hack/cli-entry.cjs, told its pid by TSRUN_CGROUP_WARMER) and its own
 *   warming thread takes over. Anything that does not work (no cgroup2, not root, another writer)
 *   just ends it: it is only a head start.
 * Which words start containers is each CLI's; any such word will do (one that is a container's
 * name only costs a needless warm-up).
 */
#define _GNU_SOURCE
#include "cgroup_own.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

/* Long enough for Node to start and the CLI's own warming thread (which waits for the writer
 * lock) to take over; short enough to be gone before the container runs, so that it never
 * warms the lock for whatever the host starts next. */
#define WARM_MS 40

struct cli {
  const char *name;
  const char *starts[4]; /* words that may start a container */
};

static const struct cli CLIS[] = {
    {"tsrun", {"run", "start", "restart", "exec"}},
    {"tsrkt", {"run", "run-prepared", "enter"}},
    {"tsrun-oci", {"run", "create", "exec"}},
};

static void warm_cgroup_lock(pid_t cli) {
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* not past the CLI (a usage error ends it at once) */
  if (getppid() != cli) return;     /* it ended already */
  char file[4096];
  if (!own_unified_procs_file_now(file, sizeof file)) return;
  int lock = open(WRITER_LOCK, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) != 0) return; /* another process keeps it warm */
  int fd = open(file, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || !is_cgroup_file(fd)) return;
  struct timespec start, now;
  const struct timespec pause = {0, REWRITE_EVERY_NS};
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    if (pwrite(fd, "0", 1, 0) != 1) return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >= WARM_MS) return;
    nanosleep(&pause, NULL);
  }
}

/* Starts the head start; its pid goes to the CLI in TSRUN_CGROUP_WARMER. */
static void start_warming(void) {
  pid_t cli = getpid();
  pid_t child = fork();
  if (child == 0) {
    /* The CLI's stdio is not ours to hold open: a reader of its output waits for the end. */
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; fd < 3; fd++)
      if (null >= 0 && null != fd) dup2(null, fd);
    close_range(3, ~0U, 0); /* nor are the rest (e.g. pipes passed on for --preserve-fds) */
    warm_cgroup_lock(cli);
    _exit(0);
  }
  if (child > 0) {
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)child);
    setenv("TSRUN_CGROUP_WARMER", pid, 1);
  }
}

/* This program's path, from the kernel (/proc/self/exe), else from how it was started (no /proc
 * here, e.g. a chroot). 0 on success. */
static int own_path(char *out, size_t cap) {
  ssize_t n = readlink("/proc/self/exe", out, cap - 1);
  int err = n < 0 ? errno : ENAMETOOLONG; /* what to report if the fallback fails too */
  if (n > 0 && (size_t)n < cap - 1) {
    out[n] = '\0';
    /* Replaced by a rebuild since our exec (by rename): the name it had still tells the CLI. */
    const char *gone = " (deleted)";
    size_t g = strlen(gone);
    if ((size_t)n > g && !strcmp(out + n - g, gone)) out[n - g] = '\0';
    return 0;
  }
  const char *started = (const char *)getauxval(AT_EXECFN);
  char resolved[PATH_MAX];
  if (started && realpath(started, resolved) && strlen(resolved) < cap) {
    strcpy(out, resolved);
    return 0;
  }
  return err;
}

static int starts_container(const struct cli *cli, int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    for (size_t w = 0; w < sizeof cli->starts / sizeof cli->starts[0] && cli->starts[w]; w++)
      if (!strcmp(argv[i], cli->starts[w])) return 1;
  return 0;
}

int main(int argc, char **argv) {
  /* This program's own path names the CLI (build/<cli>) and the checkout (its parent's parent). */
  char self[PATH_MAX];
  int err = own_path(self, sizeof self);
  if (err) {
    fprintf(stderr, "tsrun-launch: cannot find this program's path (/proc/self/exe): %s\n", strerror(err));
    return 125;
  }
  char *slash = strrchr(self, '/');
  if (!slash) return 125; /* the kernel's path is absolute */
  const char *name = slash + 1;
  const struct cli *cli = NULL;
  for (size_t i = 0; i < sizeof CLIS / sizeof CLIS[0]; i++)
    if (!strcmp(name, CLIS[i].name)) cli = &CLIS[i];
  *slash = '\0';
  char *build = strrchr(self, '/');
  if (!cli || !build) {
    fprintf(stderr, "tsrun-launch: started as %s/%s: run it as build/tsrun, build/tsrkt or build/tsrun-oci\n", self, name);
    return 125;
  }
  *build = '\0'; /* self is now the checkout */
  char entry[PATH_MAX + 64];
  snprintf(entry, sizeof entry, "%s/dist/%s.cjs", self, cli->name);

  const char *ca = getenv("NODE_EXTRA_CA_CERTS");
  if (ca && *ca) {
    setenv("TSRUN_EXTRA_CA_CERTS", ca, 1);
    unsetenv("NODE_EXTRA_CA_CERTS");
  }
  unsetenv("TSRUN_CGROUP_WARMER"); /* one inherited from another CLI is not our child */
  if (starts_container(cli, argc, argv)) start_warming();

  /* "--" first: Node 20 takes an --env-file anywhere on its command line as its own option (it
   * exits when the file is missing), so `run --env-file F` would never reach us. The entry drops it. */
  char **args = calloc((size_t)argc + 3, sizeof *args);
  if (!args) return 125;
  args[0] = "node", args[1] = entry, args[2] = "--";
  for (int i = 1; i < argc; i++) args[i + 2] = argv[i];
  execvp("node", args);
  int e = errno;
  fprintf(stderr, "%s: cannot run node: %s\n", cli->name, strerror(e));
  return e == ENOENT ? 127 : 126;
}
