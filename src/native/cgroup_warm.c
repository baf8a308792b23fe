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
#include <fcntl.h>
#include <sys/file.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REWRITE_EVERY_NS (5 * 1000 * 1000L)

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
};

static int before(const struct timespec *a, const struct timespec *b) {
  return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void *warm_main(void *arg) {
  struct warm_job *job = arg;
  unsigned generation = job->generation;
  atomic_store(&warm_running, generation);
  int fd = open(job->path, O_WRONLY | O_CLOEXEC);
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

/* warmCgroupLock(procsFile, lockFile, maxMs): starts the thread, unless one of the current
 * generation is writing already; false when it could not be started. */
static napi_value js_warm_cgroup_lock(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  int64_t max_ms;
  unsigned current = atomic_load(&warm_generation);
  if (current != 0 && atomic_load(&warm_running) == current) {
    napi_get_boolean(env, 1, &result);
    return result;
  }
  struct warm_job *job = calloc(1, sizeof *job);
  if (!job) return NULL;
  if (!get_args(env, info, 3, argv) || !get_string(env, argv[0], job->path, sizeof job->path) ||
      !get_string(env, argv[1], job->lock_path, sizeof job->lock_path) || !get_int(env, argv[2], &max_ms)) {
    free(job);
    return NULL;
  }
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
  napi_get_boolean(env, started, &result);
  return result;
}

/* coolCgroupLock(): the running thread stops after its current write. */
/* Whether a warming thread is writing now (started by this process, through any copy of the module). */
static napi_value js_cgroup_lock_warming(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  unsigned current = atomic_load(&warm_generation);
  napi_get_boolean(env, current != 0 && atomic_load(&warm_running) == current, &result);
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
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
