/*
 * spawn: starting the C helper without Node's child_process.
 *
 * child_process costs a container start ~5 ms: loading it (with net, stream and
 * dgram) and a fork() of the ~45 MB Node process. posix_spawn (a vfork-style
 * clone in glibc) with the helper's descriptors in place costs a fraction of that.
 * What child_process also gave - reading the status pipe and learning of the
 * exit without blocking Node's event loop - is done by small threads that hand
 * their results to JavaScript through thread-safe functions, which can be unref'd
 * so a detached container's monitor does not keep tsrun alive.
 *
 *   spawnProcess(file, argv, fds) -> pid   child fd i = parent fd fds[i] (-1: /dev/null), no others
 *   makePipe() -> [readFd, writeFd]        both close-on-exec
 *   watchFd(fd, cb) -> watch               cb(Buffer) per read, cb(null) at EOF; owns fd
 *   unwatchFd(watch)                       no more callbacks; the thread closes fd
 *   waitPid(pid, cb) -> wait               cb(exitCode | null, signal | null) once
 *   refHandle(watch | wait, ref)           whether it keeps the event loop alive
 */
#define _GNU_SOURCE
#include "native.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_ARGS 64
#define MAX_FDS 256

static napi_value js_spawn_process(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  if (!get_args(env, info, 3, argv)) return NULL;
  char file[PATH_BUF];
  if (!get_string(env, argv[0], file, sizeof file)) return NULL;
  uint32_t nargs, nfds;
  if (napi_get_array_length(env, argv[1], &nargs) != napi_ok || nargs + 1 > MAX_ARGS ||
      napi_get_array_length(env, argv[2], &nfds) != napi_ok || nfds > MAX_FDS) {
    napi_throw_type_error(env, NULL, "spawnProcess(file, argv[], fds[]): bad arguments");
    return NULL;
  }
  char *args[MAX_ARGS] = {0};
  int src[MAX_FDS], high[MAX_FDS];
  napi_value ret = NULL;
  int spawn_err = 0;
  pid_t pid = -1;
  uint32_t i;
  for (i = 0; i < nfds; i++) high[i] = -1;
  for (i = 0; i < nargs; i++) {
    napi_value v;
    args[i] = malloc(PATH_BUF);
    if (!args[i] || napi_get_element(env, argv[1], i, &v) != napi_ok || !get_string(env, v, args[i], PATH_BUF)) goto out;
  }
  for (i = 0; i < nfds; i++) {
    napi_value v;
    int64_t fd;
    if (napi_get_element(env, argv[2], i, &v) != napi_ok || !get_int(env, v, &fd)) goto out;
    src[i] = (int)fd;
  }
  /* Copies above every target number first, so moving one descriptor into place
   * never overwrites another still to be moved. They are close-on-exec: gone in
   * the child after the exec, closed here after the spawn. */
  for (i = 0; i < nfds; i++) {
    if (src[i] < 0) continue;
    high[i] = fcntl(src[i], F_DUPFD_CLOEXEC, (int)nfds);
    if (high[i] < 0) {
      ret = throw_errno(env, errno, "fcntl", NULL);
      goto out;
    }
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  for (i = 0; i < nfds && !spawn_err; i++) {
    if (src[i] < 0) spawn_err = posix_spawn_file_actions_addopen(&fa, (int)i, "/dev/null", O_RDWR, 0);
    else spawn_err = posix_spawn_file_actions_adddup2(&fa, high[i], (int)i);
  }
  /* Nothing else: a descriptor Node inherited without close-on-exec must not reach a container. */
  if (!spawn_err) spawn_err = posix_spawn_file_actions_addclosefrom_np(&fa, (int)nfds);
  /* The helper starts as from a shell: no blocked signals, every handler at its default. */
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (!spawn_err) spawn_err = posix_spawn(&pid, file, &fa, &attr, args, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (spawn_err) {
    ret = throw_errno(env, spawn_err, "posix_spawn", file);
    goto out;
  }
  napi_create_int32(env, pid, &result);
  ret = result;
out:
  for (i = 0; i < nfds; i++)
    if (high[i] >= 0) close(high[i]);
  for (i = 0; i < nargs; i++) free(args[i]);
  return ret;
}

static napi_value js_make_pipe(napi_env env, napi_callback_info info) {
  (void)info;
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return throw_errno(env, errno, "pipe2", NULL);
  napi_value arr, r, w;
  napi_create_array_with_length(env, 2, &arr);
  napi_create_int32(env, p[0], &r);
  napi_create_int32(env, p[1], &w);
  napi_set_element(env, arr, 0, r);
  napi_set_element(env, arr, 1, w);
  return arr;
}

/* A thread whose results reach JavaScript. Freed by whichever of the thread, the
 * thread-safe function and the JavaScript handle lets go last. */
struct bg {
  atomic_int refs;
  napi_threadsafe_function tsfn;
  int tsfn_gone; /* set on the main thread once the function is finalized */
  int closing;   /* Node is shutting down: the thread must not touch the function again */
  int is_watch;
  /* watch */
  int fd;
  int cancel; /* eventfd: written by unwatchFd */
  atomic_int done;
  /* wait */
  pid_t pid;
};

static void bg_put(struct bg *b) {
  if (atomic_fetch_sub(&b->refs, 1) != 1) return;
  if (b->is_watch) close(b->cancel);
  free(b);
}

static void bg_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  bg_put(data);
}

static void tsfn_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct bg *b = data;
  b->tsfn_gone = 1;
  bg_put(b);
}

struct chunk {
  size_t len; /* 0: end of file */
  char bytes[];
};

/* End of file: static, so reporting it needs no allocation that could fail. */
static struct chunk end_of_file = {0};

static void watch_call_js(napi_env env, napi_value cb, void *context, void *data) {
  (void)context;
  struct chunk *c = data;
  if (env && cb) {
    napi_value arg, undef;
    if (c->len) {
      void *copy;
      napi_create_buffer_copy(env, c->len, c->bytes, &copy, &arg);
    } else {
      napi_get_null(env, &arg);
    }
    napi_get_undefined(env, &undef);
    napi_call_function(env, undef, cb, 1, &arg, NULL);
  }
  if (c != &end_of_file) free(c);
}

/* Hands bytes (or, with len 0, the end of file) to JavaScript; false when that is no longer possible. */
static int post_chunk(struct bg *b, const char *bytes, size_t len) {
  struct chunk *c = len ? malloc(sizeof *c + len) : &end_of_file;
  if (!c) return 0;
  c->len = len;
  if (len) memcpy(c->bytes, bytes, len);
  napi_status st = napi_call_threadsafe_function(b->tsfn, c, napi_tsfn_blocking);
  if (st == napi_ok) return 1;
  if (st == napi_closing) b->closing = 1;
  if (c != &end_of_file) free(c);
  return 0;
}

/* The thread is done with the function; after napi_closing it must not even release it. */
static void bg_release(struct bg *b) {
  if (!b->closing) napi_release_threadsafe_function(b->tsfn, napi_tsfn_release);
}

static void *watch_main(void *arg) {
  struct bg *b = arg;
  char buf[8192];
  int cancelled = 0;
  for (;;) {
    struct pollfd pf[2] = {{b->fd, POLLIN, 0}, {b->cancel, POLLIN, 0}};
    if (poll(pf, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pf[1].revents) {
      cancelled = 1; /* unwatched: the caller wants nothing more */
      break;
    }
    if (!pf[0].revents) continue;
    ssize_t n = read(b->fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0 || !post_chunk(b, buf, (size_t)n)) break;
  }
  /* Every end but a cancel reaches the reader as end of file, so no one waits forever. */
  if (!cancelled && !b->closing) post_chunk(b, NULL, 0);
  atomic_store(&b->done, 1);
  close(b->fd);
  bg_release(b);
  bg_put(b);
  return NULL;
}

/* A detached thread with every signal blocked: signals stay with Node's own threads. */
int start_quiet_thread(void *(*fn)(void *), void *arg) {
  pthread_attr_t attr;
  pthread_t t;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  int err = pthread_create(&t, &attr, fn, arg);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return err;
}

/* Makes the thread-safe function and the JavaScript handle of b; the thread is started by the caller. */
static napi_value bg_handle(napi_env env, struct bg *b, napi_value cb, const char *name, napi_threadsafe_function_call_js call_js) {
  napi_value res_name, handle;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &res_name);
  atomic_store(&b->refs, 3);
  if (napi_create_threadsafe_function(env, cb, NULL, res_name, 0, 1, b, tsfn_finalize, NULL, call_js, &b->tsfn) != napi_ok) {
    napi_throw_error(env, NULL, "cannot create a thread-safe function");
    return NULL;
  }
  if (napi_create_external(env, b, bg_finalize, NULL, &handle) != napi_ok) {
    napi_get_null(env, &handle); /* cannot happen short of running out of memory: b leaks */
  }
  return handle;
}

/* Makes b's handle and starts fn on b: the handle, or NULL with a JavaScript error pending. */
static napi_value bg_start(napi_env env, struct bg *b, napi_value cb, const char *name, napi_threadsafe_function_call_js call_js,
                           void *(*fn)(void *)) {
  napi_value handle = bg_handle(env, b, cb, name, call_js);
  if (!handle) {
    if (b->is_watch) close(b->cancel), close(b->fd);
    free(b);
    return NULL;
  }
  int err = start_quiet_thread(fn, b);
  if (err) {
    if (b->is_watch) close(b->fd); /* the watch owned it */
    napi_release_threadsafe_function(b->tsfn, napi_tsfn_abort);
    bg_put(b); /* the thread's reference; the function's and the handle's go with their finalizers */
    return throw_errno(env, err, "pthread_create", NULL);
  }
  return handle;
}

static napi_value js_watch_fd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t fd;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], &fd)) return NULL;
  struct bg *b = calloc(1, sizeof *b);
  if (b) b->cancel = eventfd(0, EFD_CLOEXEC);
  if (!b || b->cancel < 0) {
    int err = b ? errno : ENOMEM;
    close((int)fd); /* the watch owns fd, also when it cannot start */
    free(b);
    return throw_errno(env, err, "watchFd", NULL);
  }
  b->is_watch = 1;
  b->fd = (int)fd;
  return bg_start(env, b, argv[1], "tsrun.watchFd", watch_call_js, watch_main);
}

static napi_value js_unwatch_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct bg *b;
  if (!get_args(env, info, 1, argv) || napi_get_value_external(env, argv[0], (void **)&b) != napi_ok) return NULL;
  if (!atomic_load(&b->done)) {
    uint64_t one = 1;
    ssize_t w = write(b->cancel, &one, sizeof one);
    (void)w;
  }
  return NULL;
}

static void wait_call_js(napi_env env, napi_value cb, void *context, void *data) {
  (void)context;
  int st = (int)(intptr_t)data;
  if (!env || !cb) return;
  napi_value args[2], undef;
  napi_get_null(env, &args[0]);
  napi_get_null(env, &args[1]);
  if (st >= 0 && WIFEXITED(st)) napi_create_int32(env, WEXITSTATUS(st), &args[0]);
  else if (st >= 0 && WIFSIGNALED(st)) napi_create_int32(env, WTERMSIG(st), &args[1]);
  napi_get_undefined(env, &undef);
  napi_call_function(env, undef, cb, 2, args, NULL);
}

static void *wait_main(void *arg) {
  struct bg *b = arg;
  int st;
  pid_t r;
  while ((r = waitpid(b->pid, &st, 0)) < 0 && errno == EINTR) {
  }
  if (r < 0) st = -1;
  if (napi_call_threadsafe_function(b->tsfn, (void *)(intptr_t)st, napi_tsfn_blocking) == napi_closing) b->closing = 1;
  bg_release(b);
  bg_put(b);
  return NULL;
}

/* reapChild(pid) -> whether that child had ended and is now reaped (waitpid with WNOHANG). No
 * thread: one that wakes while Node tears its environment down could race that teardown. */
static napi_value js_reap_child(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  int64_t pid;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], &pid)) return NULL;
  int st;
  pid_t r = pid > 0 ? waitpid((pid_t)pid, &st, WNOHANG) : -1;
  napi_get_boolean(env, r == (pid_t)pid || (r < 0 && errno == ECHILD), &result);
  return result;
}

static napi_value js_wait_pid(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t pid;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], &pid)) return NULL;
  if (pid <= 0) {
    napi_throw_range_error(env, NULL, "waitPid: a child's pid (> 0), not a process group");
    return NULL;
  }
  struct bg *b = calloc(1, sizeof *b);
  if (!b) return throw_errno(env, ENOMEM, "waitPid", NULL);
  b->pid = (pid_t)pid;
  return bg_start(env, b, argv[1], "tsrun.waitPid", wait_call_js, wait_main);
}

static napi_value js_ref_handle(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct bg *b;
  bool ref;
  if (!get_args(env, info, 2, argv) || napi_get_value_external(env, argv[0], (void **)&b) != napi_ok ||
      napi_get_value_bool(env, argv[1], &ref) != napi_ok)
    return NULL;
  if (b->tsfn_gone) return NULL; /* the thread is done: nothing left to keep alive */
  if (ref) napi_ref_threadsafe_function(env, b->tsfn);
  else napi_unref_threadsafe_function(env, b->tsfn);
  return NULL;
}

void register_spawn(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"spawnProcess", NULL, js_spawn_process, NULL, NULL, NULL, napi_default, NULL},
    {"makePipe", NULL, js_make_pipe, NULL, NULL, NULL, napi_default, NULL},
    {"watchFd", NULL, js_watch_fd, NULL, NULL, NULL, napi_default, NULL},
    {"unwatchFd", NULL, js_unwatch_fd, NULL, NULL, NULL, napi_default, NULL},
    {"waitPid", NULL, js_wait_pid, NULL, NULL, NULL, napi_default, NULL},
    {"reapChild", NULL, js_reap_child, NULL, NULL, NULL, napi_default, NULL},
    {"refHandle", NULL, js_ref_handle, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
