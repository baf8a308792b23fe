/*
 * tsrun_native: the few system calls Node's core lacks (flock, mknod, xattrs,
 * mount, termios, fadvise), a small pool of threads that creates files for layer extraction
 * (node_writer.c), a fast rm -rf for the engine's own directories (remove_tree.c) and a thread that
 * keeps the cgroup migration lock warm while a container is prepared (cgroup_warm.c),
 * a spawn of the helper without child_process (spawn.c) and files mapped as strings for the CLI's
 * entry (map_file.c). Thin wrappers only: every decision stays in TypeScript.
 */
#define _GNU_SOURCE
#include "native.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <termios.h>
#include <unistd.h>


napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  char msg[PATH_BUF + 256];
  const char *name = strerrordesc_np(err);
  const char *code = strerrorname_np(err);
  if (!code) code = "EUNKNOWN";
  if (path)
    snprintf(msg, sizeof msg, "%s: %s, %s '%s'", code, name ? name : "error", syscall, path);
  else
    snprintf(msg, sizeof msg, "%s: %s, %s", code, name ? name : "error", syscall);
  napi_value ecode, emsg, error, errnoval, sys;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &ecode);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &emsg);
  napi_create_error(env, ecode, emsg, &error);
  napi_create_int32(env, -err, &errnoval);
  napi_set_named_property(env, error, "errno", errnoval);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys);
  napi_set_named_property(env, error, "syscall", sys);
  if (path) {
    napi_value p;
    napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &p);
    napi_set_named_property(env, error, "path", p);
  }
  napi_throw(env, error);
  return NULL;
}

int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "wrong number of arguments");
    return 0;
  }
  return 1;
}

int get_string(napi_env env, napi_value v, char *buf, size_t len) {
  size_t got;
  if (napi_get_value_string_utf8(env, v, buf, len, &got) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a string");
    return 0;
  }
  if (got >= len - 1) {
    napi_throw_range_error(env, NULL, "string too long");
    return 0;
  }
  return 1;
}

int get_int(napi_env env, napi_value v, int64_t *out) {
  if (napi_get_value_int64(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a number");
    return 0;
  }
  return 1;
}

/* flock(fd, op) -> true when taken, false when LOCK_NB and held elsewhere. op: LOCK_* bits. */
static napi_value js_flock(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  int64_t fd, op;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &op)) return NULL;
  int rc;
  do rc = flock((int)fd, (int)op); while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    if (errno == EWOULDBLOCK) { napi_get_boolean(env, false, &result); return result; }
    return throw_errno(env, errno, "flock", NULL);
  }
  napi_get_boolean(env, true, &result);
  return result;
}

/* namesFile(path, fd) -> whether path names the file open on fd (same device and inode); false
 * when path is gone. Two stats in C: from JavaScript each builds a Stats object (~50 us cold). */
static napi_value js_names_file(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  char path[PATH_BUF];
  int64_t fd;
  if (!get_args(env, info, 2, argv) || !get_string(env, argv[0], path, sizeof path) || !get_int(env, argv[1], &fd)) return NULL;
  struct stat held, current;
  if (fstat((int)fd, &held) < 0) return throw_errno(env, errno, "fstat", NULL);
  if (stat(path, &current) < 0) {
    if (errno != ENOENT && errno != ENOTDIR) return throw_errno(env, errno, "stat", path);
    napi_get_boolean(env, false, &result);
    return result;
  }
  napi_get_boolean(env, held.st_dev == current.st_dev && held.st_ino == current.st_ino, &result);
  return result;
}

/* mknod(path, mode, major, minor): mode includes the file type bits. */
static napi_value js_mknod(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  char path[PATH_BUF];
  int64_t mode, major, minor;
  if (!get_args(env, info, 4, argv) || !get_string(env, argv[0], path, sizeof path) ||
      !get_int(env, argv[1], &mode) || !get_int(env, argv[2], &major) || !get_int(env, argv[3], &minor))
    return NULL;
  if (mknod(path, (mode_t)mode, makedev((unsigned)major, (unsigned)minor)) < 0)
    return throw_errno(env, errno, "mknod", path);
  return NULL;
}

/* lsetxattr(path, name, buffer) */
static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char path[PATH_BUF], name[512];
  void *data;
  size_t len;
  if (!get_args(env, info, 3, argv) || !get_string(env, argv[0], path, sizeof path) ||
      !get_string(env, argv[1], name, sizeof name))
    return NULL;
  if (napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a Buffer value");
    return NULL;
  }
  if (lsetxattr(path, name, data, len, 0) < 0) return throw_errno(env, errno, "lsetxattr", path);
  return NULL;
}

/* lgetxattr(path, name) -> Buffer, or null when the attribute is absent. */
static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  char path[PATH_BUF], name[512];
  if (!get_args(env, info, 2, argv) || !get_string(env, argv[0], path, sizeof path) ||
      !get_string(env, argv[1], name, sizeof name))
    return NULL;
  for (;;) {
    ssize_t size = lgetxattr(path, name, NULL, 0);
    if (size < 0) {
      if (errno == ENODATA) { napi_get_null(env, &result); return result; }
      return throw_errno(env, errno, "lgetxattr", path);
    }
    void *out;
    napi_value buf;
    napi_create_buffer(env, (size_t)size, &out, &buf);
    ssize_t got = lgetxattr(path, name, out, (size_t)size);
    if (got < 0 && errno == ERANGE) continue; /* grew in between */
    if (got < 0) return throw_errno(env, errno, "lgetxattr", path);
    if (got == size) return buf;
    napi_create_buffer_copy(env, (size_t)got, out, NULL, &result);
    return result;
  }
}

/* llistxattr(path) -> string[] */
static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  char path[PATH_BUF];
  if (!get_args(env, info, 1, argv) || !get_string(env, argv[0], path, sizeof path)) return NULL;
  for (;;) {
    ssize_t size = llistxattr(path, NULL, 0);
    if (size < 0) {
      if (errno == ENOTSUP) { napi_create_array(env, &result); return result; }
      return throw_errno(env, errno, "llistxattr", path);
    }
    char *names = malloc((size_t)size + 1);
    if (!names) return throw_errno(env, ENOMEM, "llistxattr", path);
    ssize_t got = llistxattr(path, names, (size_t)size);
    if (got < 0) {
      int e = errno;
      free(names);
      if (e == ERANGE) continue;
      return throw_errno(env, e, "llistxattr", path);
    }
    napi_create_array(env, &result);
    uint32_t idx = 0;
    for (ssize_t off = 0; off < got;) {
      size_t n = strlen(names + off);
      napi_value s;
      napi_create_string_utf8(env, names + off, n, &s);
      napi_set_element(env, result, idx++, s);
      off += (ssize_t)n + 1;
    }
    free(names);
    return result;
  }
}

/* mount(source, target, fstype, flags, data|null) */
static napi_value js_mount(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  char source[PATH_BUF], target[PATH_BUF], fstype[64];
  int64_t flags;
  napi_valuetype t;
  char *data = NULL;
  if (!get_args(env, info, 5, argv) || !get_string(env, argv[0], source, sizeof source) ||
      !get_string(env, argv[1], target, sizeof target) || !get_string(env, argv[2], fstype, sizeof fstype) ||
      !get_int(env, argv[3], &flags))
    return NULL;
  napi_typeof(env, argv[4], &t);
  if (t == napi_string) {
    size_t len;
    napi_get_value_string_utf8(env, argv[4], NULL, 0, &len);
    data = malloc(len + 1);
    if (!data) return throw_errno(env, ENOMEM, "mount", target);
    napi_get_value_string_utf8(env, argv[4], data, len + 1, &len);
  }
  int rc = mount(source, target, fstype[0] ? fstype : NULL, (unsigned long)flags, data);
  int e = errno;
  free(data);
  if (rc < 0) return throw_errno(env, e, "mount", target);
  return NULL;
}

/* umount2(target, flags) */
static napi_value js_umount2(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char target[PATH_BUF];
  int64_t flags;
  if (!get_args(env, info, 2, argv) || !get_string(env, argv[0], target, sizeof target) ||
      !get_int(env, argv[1], &flags))
    return NULL;
  if (umount2(target, (int)flags) < 0) return throw_errno(env, errno, "umount2", target);
  return NULL;
}

/* makeRaw(fd) -> Buffer: puts the terminal in cfmakeraw's mode (as moby/term's MakeRaw:
 * output processing off too) and returns the settings it had, for restoreTermios. */
static napi_value js_make_raw(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  int64_t fd;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], &fd)) return NULL;
  struct termios saved, raw;
  if (tcgetattr((int)fd, &saved) < 0) return throw_errno(env, errno, "tcgetattr", NULL);
  raw = saved;
  cfmakeraw(&raw);
  if (tcsetattr((int)fd, TCSANOW, &raw) < 0) return throw_errno(env, errno, "tcsetattr", NULL);
  napi_create_buffer_copy(env, sizeof saved, &saved, NULL, &result);
  return result;
}

/* restoreTermios(fd, Buffer from makeRaw) */
static napi_value js_restore_termios(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t fd;
  void *data;
  size_t len;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], &fd)) return NULL;
  if (napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok || len != sizeof(struct termios)) {
    napi_throw_type_error(env, NULL, "expected a Buffer from makeRaw");
    return NULL;
  }
  struct termios t;
  memcpy(&t, data, sizeof t);
  if (tcsetattr((int)fd, TCSANOW, &t) < 0) return throw_errno(env, errno, "tcsetattr", NULL);
  return NULL;
}

/* isatty(fd): Node's own loads its tty module, and with it net and stream (~1.5 ms). */
static napi_value js_isatty(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  int64_t fd;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], &fd)) return NULL;
  napi_get_boolean(env, isatty((int)fd) == 1, &result);
  return result;
}

/* Node makes a pipe or socket on stdio non-blocking when it opens a stream on it, and its exit
 * (an atexit handler) puts the flag back: the open file description is shared with the processes
 * that write to the same pipe next (a shell's next command, a CI runner). */
static int stdio_made_nonblocking(void) {
  for (int fd = 0; fd <= 2; fd++) {
    struct stat st;
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && (flags & O_NONBLOCK) && fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) return 1;
  }
  return 0;
}

/* exitNow(code): _exit(2) at once, unless stdio needs Node's own exit (above); returns false then.
 * Node's exit tears down its environment, V8 and its thread pools (1-2 ms of every command) only
 * to hand the memory back, which the kernel does. */
static napi_value js_exit_now(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  int64_t code;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], &code)) return NULL;
  if (!stdio_made_nonblocking()) _exit((int)code);
  napi_get_boolean(env, 0, &result);
  return result;
}

/* dropCachedPages(fd, offset, length): posix_fadvise(POSIX_FADV_DONTNEED) - starts the
 * writeback of the range's dirty pages and drops its clean ones from the page cache. */
static napi_value js_drop_cached_pages(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int64_t fd, offset, length;
  if (!get_args(env, info, 3, argv) || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &offset) ||
      !get_int(env, argv[2], &length))
    return NULL;
  int err = posix_fadvise((int)fd, offset, length, POSIX_FADV_DONTNEED);
  if (err) return throw_errno(env, err, "posix_fadvise", NULL);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"flock", NULL, js_flock, NULL, NULL, NULL, napi_default, NULL},
    {"namesFile", NULL, js_names_file, NULL, NULL, NULL, napi_default, NULL},
    {"mknod", NULL, js_mknod, NULL, NULL, NULL, napi_default, NULL},
    {"lsetxattr", NULL, js_lsetxattr, NULL, NULL, NULL, napi_default, NULL},
    {"lgetxattr", NULL, js_lgetxattr, NULL, NULL, NULL, napi_default, NULL},
    {"llistxattr", NULL, js_llistxattr, NULL, NULL, NULL, napi_default, NULL},
    {"mount", NULL, js_mount, NULL, NULL, NULL, napi_default, NULL},
    {"umount2", NULL, js_umount2, NULL, NULL, NULL, napi_default, NULL},
    {"makeRaw", NULL, js_make_raw, NULL, NULL, NULL, napi_default, NULL},
    {"restoreTermios", NULL, js_restore_termios, NULL, NULL, NULL, napi_default, NULL},
    {"isatty", NULL, js_isatty, NULL, NULL, NULL, napi_default, NULL},
    {"exitNow", NULL, js_exit_now, NULL, NULL, NULL, napi_default, NULL},
    {"dropCachedPages", NULL, js_drop_cached_pages, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  register_node_writer(env, exports);
  register_remove_tree(env, exports);
  register_cgroup_warm(env, exports);
  register_spawn(env, exports);
  register_map_file(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
