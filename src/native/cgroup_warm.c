/*
 * cgroup_warm: keeps the kernel's cgroup migration lock in its "writers
 * expected" state while a container is being prepared, so that the helper's
 * write of the container's pid to cgroup.procs does not wait.
 *
 * Every write to a cgroup.procs (or tasks) file takes a global per-CPU rwsem
 * for writing. When no writer came within the last RCU grace period, taking it
 * first waits for a whole grace period: 6-20 ms measured on the build machines,
 * about a third of a `runc run`. A writer arriving while the lock is still in
 * that state (during the grace period, or within one grace period after the
 * previous writer left) does not wait.
 *
 * So this thread writes "0" (this process itself) to the cgroup.procs file of
 * the cgroup this process is already in - a migration that moves nothing - at
 * once, and again every 5 ms until told to stop or until its deadline (after a
 * write the lock stayed warm for 15 ms and more in every measurement here). The
 * first write pays the grace period here, in the background, while Node
 * prepares the container on the main thread. TypeScript chooses the file
 * (src/cgroup/lock-warmer.ts); any failure just ends the thread.
 *
 * The lock is global, and while a writer holds it every fork and exit on the
 * host waits. One warm writer is enough for everyone, so a thread writes only
 * while it holds an exclusive flock on a shared lock file; the others check
 * every 5 ms and take over when the holder stops.
 */
#define _GNU_SOURCE
#include "native.h"
#include "cgroup_own.h"
#include <fcntl.h>
#include <sys/file.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Long enough for any container preparation; coolCgroupLock() normally ends it much sooner. */
#define WARM_AT_MOST_MS 2000

/* Bumped by every start and stop: a thread runs only while it holds the current generation. */
static atomic_uint warm_generation;
/* The generation of the thread now writing (0: none). A CLI starts warming before its bundle
 * loads and the launcher asks again before the container's cgroups: the running thread serves both. */
static atomic_uint warm_running;

struct warm_job {
  char path[PATH_BUF];
  char lock_path[PATH_BUF]; /* empty: write without coordinating */
  unsigned generation;
  struct timespec deadline;
  int cgroup_only; /* a path found by parsing /proc: written only if it is a cgroup filesystem's file */
};

static int before(const struct timespec *a, const struct timespec *b) {
  return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void *warm_main(void *arg) {
  struct warm_job *job = arg;
  unsigned generation = job->generation;
  atomic_store(&warm_running, generation);
  int fd = open(job->path, O_WRONLY | O_CLOEXEC);
  if (fd >= 0 && job->cgroup_only && !is_cgroup_file(fd)) {
    close(fd);
    fd = -1; /* not a cgroup's file: writing "0" there would mean nothing, or something else */
  }
  int lock = job->lock_path[0] ? open(job->lock_path, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600) : -1;
  int writer = lock < 0; /* no lock file to share: just write */
  if (fd >= 0) {
    const struct timespec pause = {0, REWRITE_EVERY_NS};
    struct timespec now;
    for (;;) {
      if (atomic_load(&warm_generation) != job->generation) break;
      if (!writer) writer = flock(lock, LOCK_EX | LOCK_NB) == 0;
      if (writer && pwrite(fd, "0", 1, 0) != 1) break;
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (!before(&now, &job->deadline)) break;
      nanosleep(&pause, NULL);
    }
    close(fd);
  }
  if (lock >= 0) close(lock); /* releases the flock: another thread takes over */
  free(job);
  atomic_compare_exchange_strong(&warm_running, &generation, 0);
  return NULL;
}

/* Whether a thread of the current generation is writing now. */
static int warming_now(void) {
  unsigned current = atomic_load(&warm_generation);
  return current != 0 && atomic_load(&warm_running) == current;
}

/* Starts a warming thread on procs_file (lock_file "" for none) unless one runs; 1 if one runs now. */
static int start_warming(const char *procs_file, const char *lock_file, int64_t max_ms, int cgroup_only) {
  if (warming_now()) return 1;
  struct warm_job *job = calloc(1, sizeof *job);
  if (!job) return 0;
  snprintf(job->path, sizeof job->path, "%s", procs_file);
  snprintf(job->lock_path, sizeof job->lock_path, "%s", lock_file);
  job->cgroup_only = cgroup_only;
  clock_gettime(CLOCK_MONOTONIC, &job->deadline);
  job->deadline.tv_sec += max_ms / 1000;
  job->deadline.tv_nsec += (max_ms % 1000) * 1000000L;
  if (job->deadline.tv_nsec >= 1000000000L) {
    job->deadline.tv_sec++;
    job->deadline.tv_nsec -= 1000000000L;
  }
  job->generation = atomic_fetch_add(&warm_generation, 1) + 1;
  int started = start_quiet_thread(warm_main, job) == 0;
  if (!started) free(job);
  return started;
}

/* warmCgroupLock(procsFile, lockFile, maxMs): starts the thread, unless one of the current
 * generation is writing already; false when it could not be started. */
static napi_value js_warm_cgroup_lock(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  char path[PATH_BUF], lock_path[PATH_BUF];
  int64_t max_ms;
  if (!get_args(env, info, 3, argv) || !get_string(env, argv[0], path, sizeof path) ||
      !get_string(env, argv[1], lock_path, sizeof lock_path) || !get_int(env, argv[2], &max_ms))
    return NULL;
  napi_get_boolean(env, start_warming(path, lock_path, max_ms, 0), &result);
  return result;
}

/*
 * warmOwnCgroupLock([v1ProcsFile]): warms through this process's own cgroup in the unified
 * hierarchy, else through v1ProcsFile when the caller found its own v1 one (a host without
 * cgroup2). Loaded before the CLI's bundle (hack/cli-entry.cjs), so it is cheap: no JavaScript.
 */
static napi_value js_warm_own_cgroup_lock(napi_env env, napi_callback_info info) {
  napi_value result, argv[1];
  size_t argc = 1;
  char file[PATH_BUF];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  /* Started already (by the CLI's entry, before the bundle loaded): no /proc to read again. */
  if (warming_now()) {
    napi_get_boolean(env, 1, &result);
    return result;
  }
  int found = own_unified_procs_file_now(file, sizeof file);
  if (!found && argc >= 1) {
    napi_valuetype t;
    if (napi_typeof(env, argv[0], &t) == napi_ok && t == napi_string) {
      if (!get_string(env, argv[0], file, sizeof file)) return NULL;
      found = 1;
    }
  }
  /* One writer at a time on the host (the kernel lock is global); alone where /run is not writable. */
  int started = found && start_warming(file, access("/run", W_OK) == 0 ? WRITER_LOCK : "", WARM_AT_MOST_MS, 1);
  napi_get_boolean(env, started, &result);
  return result;
}

/* Tests: own_unified_procs_file on given texts; null when there is none. */
static napi_value js_own_unified_procs_file(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  if (!get_args(env, info, 2, argv)) return NULL;
  char *texts[2] = {NULL, NULL};
  for (int i = 0; i < 2; i++) {
    size_t len;
    if (napi_get_value_string_utf8(env, argv[i], NULL, 0, &len) != napi_ok || !(texts[i] = malloc(len + 1))) break;
    napi_get_value_string_utf8(env, argv[i], texts[i], len + 1, &len);
  }
  char file[PATH_BUF];
  int found = texts[0] && texts[1] && own_unified_procs_file(texts[0], texts[1], file, sizeof file);
  free(texts[0]);
  free(texts[1]);
  if (found) napi_create_string_utf8(env, file, NAPI_AUTO_LENGTH, &result);
  else napi_get_null(env, &result);
  return result;
}

/* Whether a warming thread is writing now (started by this process, through any copy of the module). */
static napi_value js_cgroup_lock_warming(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_get_boolean(env, warming_now(), &result);
  return result;
}

static napi_value js_cool_cgroup_lock(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  atomic_fetch_add(&warm_generation, 1);
  return NULL;
}

void register_cgroup_warm(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"warmCgroupLock", NULL, js_warm_cgroup_lock, NULL, NULL, NULL, napi_default, NULL},
    {"coolCgroupLock", NULL, js_cool_cgroup_lock, NULL, NULL, NULL, napi_default, NULL},
    {"cgroupLockWarming", NULL, js_cgroup_lock_warming, NULL, NULL, NULL, napi_default, NULL},
    {"warmOwnCgroupLock", NULL, js_warm_own_cgroup_lock, NULL, NULL, NULL, napi_default, NULL},
    {"ownUnifiedProcsFile", NULL, js_own_unified_procs_file, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
