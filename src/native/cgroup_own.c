#define _GNU_SOURCE
#include "cgroup_own.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/vfs.h>

#define PATH_BUF 4096

/* Reads a whole (proc) file into a NUL-terminated malloc'd buffer; NULL on failure. */
char *read_text(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  size_t cap = 16384, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (!buf) break;
    if (len + 1 >= cap) {
      char *bigger = realloc(buf, cap *= 2);
      if (!bigger) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = bigger;
    }
    ssize_t n = read(fd, buf + len, cap - len - 1);
    if (n < 0) {
      free(buf);
      buf = NULL;
      break;
    }
    if (n == 0) {
      buf[len] = 0;
      break;
    }
    len += (size_t)n;
  }
  close(fd);
  return buf;
}

static int is_octal(char c) { return c >= '0' && c <= '7'; }

/* Copies a mountinfo path field of length n, decoding its octal escapes (\040 for a space). */
static void unescape_field(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n && o + 1 < cap; i++) {
    if (s[i] == '\\' && i + 3 < n && is_octal(s[i + 1]) && is_octal(s[i + 2]) && is_octal(s[i + 3])) {
      out[o++] = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out[o++] = s[i];
    }
  }
  out[o] = 0;
}

/*
 * The cgroup.procs file of the cgroup this process is in, in the unified (cgroup2) hierarchy:
 * the "0::PATH" line of /proc/self/cgroup under the cgroup2 mount of /proc/self/mountinfo (the
 * one at /sys/fs/cgroup, else at /sys/fs/cgroup/unified, else the first; PATH is relative to the
 * mount's root field). 0 when there is none: no unified hierarchy, or ours is not mounted.
 * Writing "0" to any other cgroup's file would move the process, hence the care.
 */
int own_unified_procs_file(const char *cgroup_text, const char *mountinfo_text, char *out, size_t cap) {
  const char *line = cgroup_text, *own = NULL;
  size_t own_len = 0;
  while (line && *line) {
    const char *end = strchr(line, '\n');
    size_t n = end ? (size_t)(end - line) : strlen(line);
    if (n >= 3 && !strncmp(line, "0::", 3)) {
      own = line + 3;
      own_len = n - 3;
      break;
    }
    line = end ? end + 1 : NULL;
  }
  if (!own || own_len == 0 || own_len >= PATH_BUF) return 0;
  char best_point[PATH_BUF] = "", best_root[PATH_BUF] = "";
  int best_rank = 0; /* 3: /sys/fs/cgroup, 2: /sys/fs/cgroup/unified, 1: elsewhere */
  for (line = mountinfo_text; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t n = end ? (size_t)(end - line) : strlen(line);
    const char *sep = NULL;
    for (size_t i = 0; i + 3 <= n; i++)
      if (!strncmp(line + i, " - ", 3)) {
        sep = line + i;
        break;
      }
    if (sep && !strncmp(sep + 3, "cgroup2 ", 8)) {
      /* "<id> <parent> <maj:min> <root> <mount point> ...": fields 4 and 5 */
      const char *f = line, *fields[5];
      size_t lens[5];
      int k = 0;
      while (k < 5 && f < sep) {
        const char *sp = memchr(f, ' ', (size_t)(sep - f));
        if (!sp) sp = sep;
        fields[k] = f;
        lens[k] = (size_t)(sp - f);
        k++;
        f = sp + 1;
      }
      if (k == 5) {
        char point[PATH_BUF], root[PATH_BUF];
        unescape_field(fields[4], lens[4], point, sizeof point);
        unescape_field(fields[3], lens[3], root, sizeof root);
        int rank = !strcmp(point, "/sys/fs/cgroup") ? 3 : !strcmp(point, "/sys/fs/cgroup/unified") ? 2 : 1;
        /* The later of two mounts at one point hides the earlier: it is the one paths reach. */
        if (rank >= best_rank) {
          best_rank = rank;
          snprintf(best_point, sizeof best_point, "%s", point);
          snprintf(best_root, sizeof best_root, "%s", root);
        }
      }
    }
    line = end ? end + 1 : NULL;
  }
  if (!best_rank) return 0;
  char path[PATH_BUF];
  memcpy(path, own, own_len);
  path[own_len] = 0;
  /* A cgroup outside our namespace's root reads as "/../x": no file under the mount is ours then. */
  if (path[0] != '/' || strstr(path, "/../") || (own_len >= 3 && !strcmp(path + own_len - 3, "/.."))) return 0;
  /* Our cgroup as seen inside the mount: below its root, or not reachable through it. */
  const char *rel = path;
  if (strcmp(best_root, "/")) {
    size_t rl = strlen(best_root);
    if (strncmp(path, best_root, rl) || (path[rl] != '/' && path[rl] != 0)) return 0;
    rel = path + rl;
  }
  if (!strcmp(rel, "/")) rel = "";
  int w = snprintf(out, cap, "%s%s/cgroup.procs", best_point, rel);
  return w > 0 && (size_t)w < cap;
}

int is_cgroup_file(int fd) {
  struct statfs fs;
  return fstatfs(fd, &fs) == 0 && (fs.f_type == CGROUP2_SUPER_MAGIC || fs.f_type == CGROUP_SUPER_MAGIC);
}

int own_unified_procs_file_now(char *out, size_t cap) {
  char *cgroup_text = read_text("/proc/self/cgroup"), *mountinfo_text = cgroup_text ? read_text("/proc/self/mountinfo") : NULL;
  int found = mountinfo_text && own_unified_procs_file(cgroup_text, mountinfo_text, out, cap);
  free(cgroup_text);
  free(mountinfo_text);
  return found;
}
