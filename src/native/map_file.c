/*
 * map_file: a file's bytes as a JavaScript string or Buffer that points into the page cache
 * (a private read-only mmap) instead of holding a copy.
 *
 * The CLI entry (hack/cli-entry.cjs) loads its bundle and V8 code cache this way. Reading them
 * copied ~1.5 MB into fresh memory at every start, and again into a V8 string: ~550 page faults
 * on the way to the first line of the CLI. A mapping faults ~16 pages at a time, and the source's
 * pages V8 never reads (the code cache covers them) are never touched.
 *
 * A file mapped here must not shrink while mapped (a read past its new end is SIGBUS), so the
 * build replaces dist/ files by rename, never in place. Where mapping fails, the entry reads.
 */
#define _GNU_SOURCE
/* node_api_create_external_string_latin1 (Node >= 20.4) is declared only for experimental
 * Node-API. Only this file sees it: the module itself registers as a stable-version addon. */
#define NAPI_EXPERIMENTAL
#include "native.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Node 20.0-20.3 lack it, and Node binds an addon's symbols lazily: called there, it would end the
 * process. Weak, it is NULL on those and mapLatin1File is not offered (the entry then reads). */
#pragma weak node_api_create_external_string_latin1

/* Larger files are read, not mapped: V8 strings and Buffers stop well below this anyway. */
#define MAP_MAX ((off_t)1 << 30)

static void unmap(node_api_basic_env env, void *data, void *hint) { munmap(data, (size_t)(uintptr_t)hint); }

/* Maps the whole of path read-only. 0, or an errno with *step naming the failed call. */
static int map_whole(const char *path, void **addr, size_t *len, const char **step) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *step = "open";
    return errno;
  }
  struct stat st;
  int err = 0;
  if (fstat(fd, &st) != 0) {
    err = errno;
    *step = "fstat";
  } else if (!S_ISREG(st.st_mode) || st.st_size == 0 || st.st_size > MAP_MAX) {
    /* nothing to map (or too much): the caller reads instead */
    err = !S_ISREG(st.st_mode) ? EINVAL : st.st_size == 0 ? ENODATA : EFBIG;
    *step = "map";
  } else {
    *len = (size_t)st.st_size;
    *addr = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (*addr == MAP_FAILED) {
      err = errno;
      *step = "mmap";
    }
  }
  close(fd);
  return err;
}

/* Maps the file the call's one argument names; 0 with an exception pending when it cannot. */
static int map_argument(napi_env env, napi_callback_info info, void **addr, size_t *len) {
  napi_value argv[1];
  char path[PATH_BUF];
  if (!get_args(env, info, 1, argv) || !get_string(env, argv[0], path, sizeof path)) return 0;
  const char *step;
  int err = map_whole(path, addr, len, &step);
  if (err) throw_errno(env, err, step, path);
  return !err;
}

/* mapLatin1File(path): the file as a string of one-byte characters (its bytes as Latin-1: ASCII text
 * reads as itself). V8 never writes to an external string's bytes. */
static napi_value js_map_latin1_file(napi_env env, napi_callback_info info) {
  napi_value result;
  void *addr;
  size_t len;
  if (!map_argument(env, info, &addr, &len)) return NULL;
  bool copied;
  if (node_api_create_external_string_latin1(env, addr, len, unmap, (void *)(uintptr_t)len, &result, &copied) != napi_ok) {
    munmap(addr, len);
    napi_throw_error(env, NULL, "cannot make an external string");
    return NULL;
  }
  return result; /* when V8 copied it instead, it has called unmap already */
}

/* mapFile(path): the file as a Buffer over its pages. Read-only: a write to it is SIGSEGV. */
static napi_value js_map_file(napi_env env, napi_callback_info info) {
  napi_value result;
  void *addr;
  size_t len;
  if (!map_argument(env, info, &addr, &len)) return NULL;
  if (napi_create_external_buffer(env, len, addr, unmap, (void *)(uintptr_t)len, &result) != napi_ok) {
    munmap(addr, len);
    napi_throw_error(env, NULL, "cannot make an external buffer");
    return NULL;
  }
  return result;
}

void register_map_file(napi_env env, napi_value exports) {
  napi_value fn;
  if (node_api_create_external_string_latin1) {
    napi_create_function(env, "mapLatin1File", NAPI_AUTO_LENGTH, js_map_latin1_file, NULL, &fn);
    napi_set_named_property(env, exports, "mapLatin1File", fn);
  }
  napi_create_function(env, "mapFile", NAPI_AUTO_LENGTH, js_map_file, NULL, &fn);
  napi_set_named_property(env, exports, "mapFile", fn);
}
