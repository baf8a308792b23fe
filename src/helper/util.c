/* Small shared pieces: status messages, atomic files, JSON strings, time. */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int g_report_fd = STATUS_FD;

int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

void ns_put(int fd, const char *s, size_t len) {
  char head[24];
  int h = snprintf(head, sizeof head, "%zu:", len);
  write_all(fd, head, (size_t)h);
  write_all(fd, s, len);
  write_all(fd, ",", 1);
}

/* A message is its fields as netstrings, ended by an empty netstring "0:,". */
void ns_msg(int fd, int n, const char *const *fields) {
  /* Build it in one buffer so one write() keeps messages whole on a pipe. */
  char buf[8192];
  size_t off = 0;
  for (int i = 0; i <= n; i++) {
    const char *f = i < n ? fields[i] : "";
    size_t len = strlen(f);
    if (len > 2000) len = 2000;
    off += (size_t)snprintf(buf + off, sizeof buf - off, "%zu:", len);
    memcpy(buf + off, f, len);
    off += len;
    buf[off++] = ',';
  }
  write_all(fd, buf, off);
}

void report_error(const char *step, int err, const char *path) {
  char num[16];
  snprintf(num, sizeof num, "%d", err);
  const char *f[] = {"error", step, num, path ? path : "", strerror(err)};
  ns_msg(g_report_fd, 5, f);
}

void die_step(const char *step, int err, const char *path) {
  report_error(step, err, path);
  _exit(1);
}

int write_file_atomic(const char *path, const char *data, size_t len) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid()) >= (int)sizeof tmp) {
    errno = ENAMETOOLONG;
    return -1;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  /* No fsync: runtime state lives under the runroot (tmpfs, gone at reboot); rename alone is atomic. */
  if (write_all(fd, data, len)) {
    int e = errno;
    close(fd);
    unlink(tmp);
    errno = e;
    return -1;
  }
  close(fd);
  if (rename(tmp, path)) {
    int e = errno;
    unlink(tmp);
    errno = e;
    return -1;
  }
  return 0;
}

/* Length of a valid UTF-8 sequence at s, or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  size_t need;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) need = 2, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef) need = 3, cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4) need = 4, cp = c & 0x07;
  else return 0;
  if (n < need) return 0;
  for (size_t i = 1; i < need; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if ((need == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (need == 4 && (cp < 0x10000 || cp > 0x10ffff)))
    return 0;
  return need;
}

/* JSON string body for bytes; invalid UTF-8 becomes U+FFFD as Docker does.
 * dst needs 6*len+1 bytes at most. Returns the length written. */
size_t json_escape(char *dst, size_t cap, const unsigned char *src, size_t len) {
  size_t o = 0;
  for (size_t i = 0; i < len && o + 7 < cap;) {
    unsigned char c = src[i];
    if (c == '"' || c == '\\') {
      dst[o++] = '\\';
      dst[o++] = (char)c;
      i++;
    } else if (c == '\n') {
      dst[o++] = '\\', dst[o++] = 'n', i++;
    } else if (c == '\r') {
      dst[o++] = '\\', dst[o++] = 'r', i++;
    } else if (c == '\t') {
      dst[o++] = '\\', dst[o++] = 't', i++;
    } else if (c < 0x20 || c == 0x7f) {
      o += (size_t)snprintf(dst + o, cap - o, "\\u%04x", c);
      i++;
    } else {
      size_t n = utf8_len(src + i, len - i);
      if (n == 0) {
        memcpy(dst + o, "\\ufffd", 6);
        o += 6;
        i++;
      } else {
        memcpy(dst + o, src + i, n);
        o += n;
        i += n;
      }
    }
  }
  dst[o] = 0;
  return o;
}

int unix_listen(const char *path, int backlog) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  int dfd = -1;
  if (strlen(path) < sizeof addr.sun_path) {
    strcpy(addr.sun_path, path);
  } else {
    /* Too long for sun_path: bind through the directory's fd, as conmon does. */
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash || (size_t)(slash - path) >= sizeof dir) return errno = ENAMETOOLONG, -1;
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = 0;
    dfd = open(slash == path ? "/" : dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return -1;
    if (snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/%s", dfd, slash + 1) >= (int)sizeof addr.sun_path) {
      close(dfd);
      return errno = ENAMETOOLONG, -1;
    }
  }
  unlink(path); /* left by a monitor that was killed */
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) || chmod(path, 0600) || listen(fd, backlog)) {
    int e = errno;
    if (fd >= 0) close(fd);
    if (dfd >= 0) close(dfd);
    return errno = e, -1;
  }
  if (dfd >= 0) close(dfd);
  return fd;
}

void rfc3339_now(char *buf, size_t cap) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, cap - n, ".%09ldZ", ts.tv_nsec);
}

const char *signal_name(int sig, char *buf, size_t cap) {
  static const char *const names[] = {
      NULL, "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1",
      "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP",
      "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR",
      "SIGSYS"};
  if (sig > 0 && sig < (int)(sizeof names / sizeof names[0])) return names[sig];
  if (sig >= SIGRTMIN && sig <= SIGRTMAX) snprintf(buf, cap, "SIGRTMIN+%d", sig - SIGRTMIN);
  else snprintf(buf, cap, "SIG%d", sig);
  return buf;
}
