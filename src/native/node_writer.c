/*
 * node_writer: creates regular files and symlinks on a few threads of its own.
 *
 * Extracting a layer is bound by file creation in the kernel (open(O_CREAT)
 * is most of it), which one thread does serially. The extractor in
 * TypeScript still decides everything: which path, which bytes, owner, mode,
 * times, xattrs, and when to wait (drain) because an entry depends on earlier
 * ones. This file only carries out those requests in parallel.
 *
 * Contract: requests are independent of each other until drain() returns;
 * the first failure is kept (errno, step, path), later requests are skipped,
 * and the failure is thrown by the next submit or drain.
 */
#define _GNU_SOURCE
#include "native.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAX_THREADS 8

enum job_kind { JOB_FILE, JOB_SYMLINK, JOB_DIR };

struct job {
  struct job *next;
  enum job_kind kind;
  char *path;
  char *link_target; /* JOB_SYMLINK */
  int dir_create; /* JOB_DIR: mkdir first (with create_mode, then chmod to it against the umask) */
  mode_t dir_create_mode;
  int dir_meta; /* JOB_DIR: then owner, mode and xattrs of the entry */
  unsigned char *data; /* JOB_FILE content */
  size_t len;
  mode_t mode;
  uid_t uid;
  gid_t gid;
  struct timespec times[2];
  size_t nxattrs;
  char **xattr_names;
  unsigned char **xattr_values;
  size_t *xattr_lens;
};

struct writer {
  pthread_mutex_t mu;
  pthread_cond_t has_work;
  pthread_cond_t progress;
  struct job *head, *tail;
  size_t pending_jobs; /* queued or running */
  size_t pending_bytes;
  size_t max_bytes;
  int stopping;
  int nthreads;
  pthread_t threads[MAX_THREADS];
  /* the first failure */
  int err;
  const char *err_step;
  char *err_path;
};

static void free_job(struct job *j) {
  free(j->path);
  free(j->link_target);
  free(j->data);
  for (size_t i = 0; i < j->nxattrs; i++) {
    free(j->xattr_names[i]);
    free(j->xattr_values[i]);
  }
  free(j->xattr_names);
  free(j->xattr_values);
  free(j->xattr_lens);
  free(j);
}

/* Seconds as a double -> timespec, the way libuv (so Node's futimesSync) converts them. */
static struct timespec to_timespec(double t) {
  struct timespec ts;
  ts.tv_sec = (time_t)t;
  ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
  ts.tv_nsec -= ts.tv_nsec % 1000;
  if (ts.tv_nsec < 0) {
    ts.tv_nsec += 1000000000;
    ts.tv_sec -= 1;
  }
  return ts;
}

/* Runs one job; returns 0, or an errno with *step set to the failing call. */
static int run_file(struct job *j, const char **step) {
  /* Created with the entry's permission bits (less the umask): most files of an image
   * are root's with plain modes, and then the fstat below spares fchown and fchmod,
   * two inode updates per file. The layer dir is private to root while it is made. */
  int fd = open(j->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, j->mode & 0777);
  if (fd < 0) return *step = "open", errno;
  int err = 0;
  for (size_t off = 0; off < j->len && !err;) {
    ssize_t n = write(fd, j->data + off, j->len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) err = errno, *step = "write";
    else off += (size_t)n;
  }
  struct stat st;
  if (!err && fstat(fd, &st) < 0) err = errno, *step = "fstat";
  /* chown first: it clears setuid/setgid and security.capability. The owner a new file
   * gets (ours, or a setgid parent's group) is what fstat tells. */
  int chowned = 0;
  if (!err && (st.st_uid != j->uid || st.st_gid != j->gid)) {
    if (fchown(fd, j->uid, j->gid) < 0) err = errno, *step = "fchown";
    chowned = 1;
  }
  if (!err && (chowned || (st.st_mode & 07777) != j->mode) && fchmod(fd, j->mode) < 0) err = errno, *step = "fchmod";
  for (size_t i = 0; i < j->nxattrs && !err; i++)
    if (fsetxattr(fd, j->xattr_names[i], j->xattr_values[i], j->xattr_lens[i], 0) < 0) err = errno, *step = "fsetxattr";
  if (!err && futimens(fd, j->times) < 0) err = errno, *step = "futimens";
  if (close(fd) < 0 && !err) err = errno, *step = "close";
  return err;
}

static int run_symlink(struct job *j, const char **step) {
  if (symlink(j->link_target, j->path) < 0) return *step = "symlink", errno;
  if (lchown(j->path, j->uid, j->gid) < 0) return *step = "lchown", errno;
  for (size_t i = 0; i < j->nxattrs; i++)
    if (lsetxattr(j->path, j->xattr_names[i], j->xattr_values[i], j->xattr_lens[i], 0) < 0) return *step = "lsetxattr", errno;
  if (utimensat(AT_FDCWD, j->path, j->times, AT_SYMLINK_NOFOLLOW) < 0) return *step = "utimensat", errno;
  return 0;
}

static int run_dir(struct job *j, const char **step) {
  if (j->dir_create) {
    if (mkdir(j->path, j->dir_create_mode) < 0) return *step = "mkdir", errno;
    if (!j->dir_meta && chmod(j->path, j->dir_create_mode) < 0) return *step = "chmod", errno;
  }
  if (!j->dir_meta) return 0;
  if (lchown(j->path, j->uid, j->gid) < 0) return *step = "lchown", errno;
  if (chmod(j->path, j->mode) < 0) return *step = "chmod", errno;
  for (size_t i = 0; i < j->nxattrs; i++)
    if (lsetxattr(j->path, j->xattr_names[i], j->xattr_values[i], j->xattr_lens[i], 0) < 0) return *step = "lsetxattr", errno;
  return 0;
}

static void *worker(void *arg) {
  struct writer *w = arg;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->head && !w->stopping) pthread_cond_wait(&w->has_work, &w->mu);
    if (!w->head) break; /* stopping and nothing left */
    struct job *j = w->head;
    w->head = j->next;
    if (!w->head) w->tail = NULL;
    int skip = w->err != 0;
    pthread_mutex_unlock(&w->mu);

    const char *step = NULL;
    int err = skip ? 0 : j->kind == JOB_FILE ? run_file(j, &step) : j->kind == JOB_SYMLINK ? run_symlink(j, &step) : run_dir(j, &step);

    pthread_mutex_lock(&w->mu);
    if (err && !w->err) {
      w->err = err;
      w->err_step = step;
      w->err_path = j->path;
      j->path = NULL; /* kept for the error */
    }
    w->pending_jobs--;
    w->pending_bytes -= j->len;
    pthread_cond_broadcast(&w->progress);
    pthread_mutex_unlock(&w->mu);
    free_job(j);
    pthread_mutex_lock(&w->mu);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

/* Throws the kept failure, if any (the caller holds no lock). */
static int throw_kept(napi_env env, struct writer *w) {
  pthread_mutex_lock(&w->mu);
  int err = w->err;
  const char *step = w->err_step;
  char *path = w->err_path;
  pthread_mutex_unlock(&w->mu);
  if (!err) return 0;
  throw_errno(env, err, step, path);
  return 1;
}

static void stop_writer(struct writer *w) {
  pthread_mutex_lock(&w->mu);
  w->stopping = 1;
  pthread_cond_broadcast(&w->has_work);
  pthread_mutex_unlock(&w->mu);
  for (int i = 0; i < w->nthreads; i++) pthread_join(w->threads[i], NULL);
  w->nthreads = 0;
}

static void finalize_writer(napi_env env, void *data, void *hint) {
  struct writer *w = data;
  stop_writer(w);
  free(w->err_path);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->has_work);
  pthread_cond_destroy(&w->progress);
  free(w);
}

static struct writer *get_writer(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || !data) {
    napi_throw_type_error(env, NULL, "expected a node writer");
    return NULL;
  }
  struct writer *w = data;
  if (w->stopping) {
    napi_throw_error(env, NULL, "the node writer is closed");
    return NULL;
  }
  return w;
}

/* nodeWriterOpen(threads, maxBytes) -> writer */
static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  int64_t threads, max_bytes;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], &threads) || !get_int(env, argv[1], &max_bytes)) return NULL;
  if (threads < 1 || threads > MAX_THREADS || max_bytes < 1) {
    napi_throw_range_error(env, NULL, "threads must be 1..8 and maxBytes positive");
    return NULL;
  }
  struct writer *w = calloc(1, sizeof *w);
  if (!w) return throw_errno(env, ENOMEM, "nodeWriterOpen", NULL);
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->has_work, NULL);
  pthread_cond_init(&w->progress, NULL);
  w->max_bytes = (size_t)max_bytes;
  for (int i = 0; i < threads; i++) {
    int rc = pthread_create(&w->threads[i], NULL, worker, w);
    if (rc) {
      finalize_writer(env, w, NULL);
      return throw_errno(env, rc, "pthread_create", NULL);
    }
    w->nthreads++;
  }
  if (napi_create_external(env, w, finalize_writer, NULL, &result) != napi_ok) {
    finalize_writer(env, w, NULL);
    napi_throw_error(env, NULL, "cannot create the node writer");
    return NULL;
  }
  return result;
}

static char *dup_string(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a string");
    return NULL;
  }
  char *s = malloc(len + 1);
  if (!s) {
    throw_errno(env, ENOMEM, "malloc", NULL);
    return NULL;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

/* Copies an array of Buffers into one block (the caller's Buffers may be reused once we return). */
static int copy_buffers(napi_env env, napi_value arr, unsigned char **out, size_t *out_len) {
  uint32_t n;
  if (napi_get_array_length(env, arr, &n) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected an array of Buffers");
    return 0;
  }
  size_t total = 0;
  for (uint32_t pass = 0; pass < 2; pass++) {
    size_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
      napi_value b;
      void *data;
      size_t len;
      napi_get_element(env, arr, i, &b);
      if (napi_get_buffer_info(env, b, &data, &len) != napi_ok) {
        napi_throw_type_error(env, NULL, "expected an array of Buffers");
        return 0;
      }
      if (pass == 0) total += len;
      else memcpy(*out + off, data, len), off += len;
    }
    if (pass == 0) {
      *out = malloc(total ? total : 1);
      if (!*out) {
        throw_errno(env, ENOMEM, "malloc", NULL);
        return 0;
      }
      *out_len = total;
    }
  }
  return 1;
}

static int copy_xattrs(napi_env env, napi_value names, napi_value values, struct job *j) {
  uint32_t n, nv;
  if (napi_get_array_length(env, names, &n) != napi_ok || napi_get_array_length(env, values, &nv) != napi_ok || n != nv) {
    napi_throw_type_error(env, NULL, "expected xattr names and values of the same length");
    return 0;
  }
  if (n == 0) return 1;
  j->xattr_names = calloc(n, sizeof *j->xattr_names);
  j->xattr_values = calloc(n, sizeof *j->xattr_values);
  j->xattr_lens = calloc(n, sizeof *j->xattr_lens);
  if (!j->xattr_names || !j->xattr_values || !j->xattr_lens) {
    throw_errno(env, ENOMEM, "malloc", NULL);
    return 0;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value name, value;
    void *data;
    size_t len;
    napi_get_element(env, names, i, &name);
    napi_get_element(env, values, i, &value);
    j->nxattrs = i + 1; /* so free_job frees what is set so far */
    if (!(j->xattr_names[i] = dup_string(env, name))) return 0;
    if (napi_get_buffer_info(env, value, &data, &len) != napi_ok) {
      napi_throw_type_error(env, NULL, "expected a Buffer xattr value");
      return 0;
    }
    j->xattr_values[i] = malloc(len ? len : 1);
    if (!j->xattr_values[i]) {
      throw_errno(env, ENOMEM, "malloc", NULL);
      return 0;
    }
    memcpy(j->xattr_values[i], data, len);
    j->xattr_lens[i] = len;
  }
  return 1;
}

static int get_owner_times(napi_env env, napi_value *argv, struct job *j) {
  int64_t uid, gid;
  double atime, mtime;
  if (!get_int(env, argv[0], &uid) || !get_int(env, argv[1], &gid)) return 0;
  if (napi_get_value_double(env, argv[2], &atime) != napi_ok || napi_get_value_double(env, argv[3], &mtime) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected times in seconds");
    return 0;
  }
  j->uid = (uid_t)uid;
  j->gid = (gid_t)gid;
  j->times[0] = to_timespec(atime);
  j->times[1] = to_timespec(mtime);
  return 1;
}

/* Queues a job, waiting while too many bytes are in flight; throws a kept failure instead. */
static void enqueue(napi_env env, struct writer *w, struct job *j) {
  pthread_mutex_lock(&w->mu);
  while (!w->err && w->pending_jobs > 0 && w->pending_bytes + j->len > w->max_bytes) pthread_cond_wait(&w->progress, &w->mu);
  int failed = w->err != 0;
  if (!failed) {
    if (w->tail) w->tail->next = j;
    else w->head = j;
    w->tail = j;
    w->pending_jobs++;
    w->pending_bytes += j->len;
    pthread_cond_signal(&w->has_work);
  }
  pthread_mutex_unlock(&w->mu);
  if (failed) {
    free_job(j);
    throw_kept(env, w);
  }
}

/* nodeWriterFile(w, path, chunks, mode, uid, gid, atime, mtime, xattrNames, xattrValues) */
static napi_value js_file(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  int64_t mode;
  if (!get_args(env, info, 10, argv)) return NULL;
  struct writer *w = get_writer(env, argv[0]);
  if (!w || !get_int(env, argv[3], &mode)) return NULL;
  struct job *j = calloc(1, sizeof *j);
  if (!j) return throw_errno(env, ENOMEM, "malloc", NULL);
  j->kind = JOB_FILE;
  j->mode = (mode_t)mode;
  if (!(j->path = dup_string(env, argv[1])) || !copy_buffers(env, argv[2], &j->data, &j->len) ||
      !get_owner_times(env, argv + 4, j) || !copy_xattrs(env, argv[8], argv[9], j)) {
    free_job(j);
    return NULL;
  }
  enqueue(env, w, j);
  return NULL;
}

/* nodeWriterSymlink(w, target, path, uid, gid, atime, mtime, xattrNames, xattrValues) */
static napi_value js_symlink(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  if (!get_args(env, info, 9, argv)) return NULL;
  struct writer *w = get_writer(env, argv[0]);
  if (!w) return NULL;
  struct job *j = calloc(1, sizeof *j);
  if (!j) return throw_errno(env, ENOMEM, "malloc", NULL);
  j->kind = JOB_SYMLINK;
  if (!(j->link_target = dup_string(env, argv[1])) || !(j->path = dup_string(env, argv[2])) ||
      !get_owner_times(env, argv + 3, j) || !copy_xattrs(env, argv[7], argv[8], j)) {
    free_job(j);
    return NULL;
  }
  enqueue(env, w, j);
  return NULL;
}

/*
 * nodeWriterDir(w, path, createMode|-1, meta|null): mkdir when createMode >= 0; with meta
 * [mode, uid, gid, xattrNames, xattrValues], then lchown, chmod and the xattrs. Jobs run in
 * order only with one thread: the caller must not depend on that with more.
 */
static napi_value js_dir(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int64_t create_mode;
  napi_valuetype t;
  if (!get_args(env, info, 4, argv)) return NULL;
  struct writer *w = get_writer(env, argv[0]);
  if (!w || !get_int(env, argv[2], &create_mode)) return NULL;
  struct job *j = calloc(1, sizeof *j);
  if (!j) return throw_errno(env, ENOMEM, "malloc", NULL);
  j->kind = JOB_DIR;
  j->dir_create = create_mode >= 0;
  j->dir_create_mode = (mode_t)(create_mode >= 0 ? create_mode : 0);
  if (!(j->path = dup_string(env, argv[1]))) {
    free_job(j);
    return NULL;
  }
  napi_typeof(env, argv[3], &t);
  if (t == napi_object) {
    napi_value mode, uid, gid, names, values;
    int64_t m, u, g;
    napi_get_element(env, argv[3], 0, &mode);
    napi_get_element(env, argv[3], 1, &uid);
    napi_get_element(env, argv[3], 2, &gid);
    napi_get_element(env, argv[3], 3, &names);
    napi_get_element(env, argv[3], 4, &values);
    if (!get_int(env, mode, &m) || !get_int(env, uid, &u) || !get_int(env, gid, &g) || !copy_xattrs(env, names, values, j)) {
      free_job(j);
      return NULL;
    }
    j->dir_meta = 1;
    j->mode = (mode_t)m;
    j->uid = (uid_t)u;
    j->gid = (gid_t)g;
  }
  enqueue(env, w, j);
  return NULL;
}

/* nodeWriterDrain(w): waits until every queued job ran; throws the first failure. */
static napi_value js_drain(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  struct writer *w = get_writer(env, argv[0]);
  if (!w) return NULL;
  pthread_mutex_lock(&w->mu);
  while (w->pending_jobs > 0) pthread_cond_wait(&w->progress, &w->mu);
  pthread_mutex_unlock(&w->mu);
  throw_kept(env, w);
  return NULL;
}

/* nodeWriterClose(w): lets queued jobs finish, then ends the threads. Never throws a job's failure. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  void *data = NULL;
  if (!get_args(env, info, 1, argv)) return NULL;
  if (napi_get_value_external(env, argv[0], &data) == napi_ok && data) stop_writer(data);
  return NULL;
}

void register_node_writer(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"nodeWriterOpen", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
    {"nodeWriterFile", NULL, js_file, NULL, NULL, NULL, napi_default, NULL},
    {"nodeWriterSymlink", NULL, js_symlink, NULL, NULL, NULL, napi_default, NULL},
    {"nodeWriterDir", NULL, js_dir, NULL, NULL, NULL, napi_default, NULL},
    {"nodeWriterDrain", NULL, js_drain, NULL, NULL, NULL, napi_default, NULL},
    {"nodeWriterClose", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
