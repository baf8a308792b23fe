/* The container process: runs the PHASE_INIT steps of the plan in order and
 * execs the command. Any failure is reported as (step, errno, path) over the
 * init pipe and ends the process; the monitor relays it. */
#include "helper.h"

#include <net/if.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

int g_exec_fifo_fd = -1; /* O_PATH fd of the exec fifo, opened by the monitor */
int g_console_fd = -1;   /* socket to send the pty master to the monitor (terminal mode) */
int g_preserve_fds = 0;
int g_no_monitor = 0;
int g_die_with_monitor = 0;

static int root_fd = -1; /* paths of steps resolve inside this directory */
static char **cmd_argv;
static char **cmd_env;
static char cmd_path[PATH_MAX];
static int cmd_found;
static int ready_sent;

static void send_ready(void) {
  if (ready_sent) return;
  const char *f[] = {"ready"};
  ns_msg(g_report_fd, 1, f);
  ready_sent = 1;
}

/* Opens a path as if the current root were "/": symlinks and ".." cannot leave it. */
static int open_in_root(const char *path, int flags) {
  struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .mode = 0, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  while (*path == '/') path++;
  if (!*path) path = ".";
  return (int)syscall(SYS_openat2, root_fd, path, &how, sizeof how);
}

static void fd_path(int fd, char *buf, size_t cap) { snprintf(buf, cap, "/proc/self/fd/%d", fd); }

/* Opens the parent of path inside the root and returns the last component. */
static int open_parent(const char *step, const char *path, const char **base) {
  char dir[PATH_MAX];
  const char *slash = strrchr(path, '/');
  if (!slash) {
    *base = path;
    return open_in_root(".", O_PATH | O_DIRECTORY);
  }
  if ((size_t)(slash - path) >= sizeof dir) die_step(step, ENAMETOOLONG, path);
  memcpy(dir, path, (size_t)(slash - path));
  dir[slash - path] = 0;
  *base = slash + 1;
  if (!**base || strcmp(*base, ".") == 0 || strcmp(*base, "..") == 0) die_step(step, EINVAL, path);
  int fd = open_in_root(dir, O_PATH | O_DIRECTORY);
  if (fd < 0) die_step(step, errno, path);
  return fd;
}

static void step_mkdirs(const char *path, const char *mode_s) {
  uint64_t mode;
  if (parse_u64(mode_s, 8, &mode)) die_step("mkdirs", EINVAL, mode_s);
  char prefix[PATH_MAX];
  size_t len = strlen(path);
  if (len >= sizeof prefix) die_step("mkdirs", ENAMETOOLONG, path);
  for (size_t i = 1; i <= len; i++) {
    if (i < len && path[i] != '/') continue;
    memcpy(prefix, path, i);
    prefix[i] = 0;
    int fd = open_in_root(prefix, O_PATH | O_DIRECTORY);
    if (fd >= 0) {
      close(fd);
      continue;
    }
    if (errno != ENOENT) die_step("mkdirs", errno, prefix);
    const char *base;
    int pfd = open_parent("mkdirs", prefix, &base);
    if (mkdirat(pfd, base, (mode_t)mode) && errno != EEXIST) die_step("mkdirs", errno, prefix);
    close(pfd);
  }
}

static void step_mkfile(const char *path) {
  int fd = open_in_root(path, O_PATH);
  if (fd >= 0) {
    close(fd);
    return;
  }
  const char *base;
  int pfd = open_parent("mkfile", path, &base);
  fd = openat(pfd, base, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) die_step("mkfile", errno, path);
  close(fd);
  close(pfd);
}

static void step_mount(char **a) {
  uint64_t flags;
  if (parse_u64(a[3], 16, &flags)) die_step("mount", EINVAL, a[3]);
  int fd = open_in_root(a[1], O_PATH);
  if (fd < 0) die_step("mount", errno, a[1]);
  char target[64];
  fd_path(fd, target, sizeof target);
  if (mount(a[0], target, a[2][0] ? a[2] : NULL, (unsigned long)flags, a[4][0] ? a[4] : NULL))
    die_step("mount", errno, a[1]);
  close(fd);
}

/* Flags a bind remount must keep (the kernel refuses to clear locked ones). */
static unsigned long kept_flags(const char *target) {
  struct statvfs sv;
  unsigned long f = 0;
  if (statvfs(target, &sv)) return 0;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

static void remount_fd(const char *step, int fd, unsigned long flags, const char *path) {
  char target[64];
  fd_path(fd, target, sizeof target);
  if (flags & MS_BIND) flags |= kept_flags(target);
  if (mount(NULL, target, NULL, MS_REMOUNT | flags, NULL)) die_step(step, errno, path);
}

static void step_remount(const char *path, const char *flags_s) {
  uint64_t flags;
  if (parse_u64(flags_s, 16, &flags)) die_step("remount", EINVAL, flags_s);
  int fd = open_in_root(path, O_PATH);
  if (fd < 0) die_step("remount", errno, path);
  remount_fd("remount", fd, (unsigned long)flags, path);
  close(fd);
}

static void step_propagation(const char *path, const char *flags_s) {
  uint64_t flags;
  if (parse_u64(flags_s, 16, &flags)) die_step("propagation", EINVAL, flags_s);
  int fd = open_in_root(path, O_PATH);
  if (fd < 0) die_step("propagation", errno, path);
  char target[64];
  fd_path(fd, target, sizeof target);
  if (mount(NULL, target, NULL, (unsigned long)flags, NULL)) die_step("propagation", errno, path);
  close(fd);
}

static void step_rootfs(const char *path) {
  if (mount(path, path, NULL, MS_BIND | MS_REC, NULL)) die_step("rootfs", errno, path);
  int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) die_step("rootfs", errno, path);
  close(root_fd);
  root_fd = fd;
}

static void step_mknod(char **a) {
  uint64_t major, minor, mode, uid, gid;
  if (parse_u64(a[2], 10, &major) || parse_u64(a[3], 10, &minor) || parse_u64(a[4], 8, &mode) ||
      parse_u64(a[5], 10, &uid) || parse_u64(a[6], 10, &gid) || strlen(a[1]) != 1)
    die_step("mknod", EINVAL, a[0]);
  mode_t type;
  switch (a[1][0]) {
  case 'c': case 'u': type = S_IFCHR; break;
  case 'b': type = S_IFBLK; break;
  case 'p': type = S_IFIFO; break;
  default: die_step("mknod", EINVAL, a[1]);
  }
  const char *base;
  int pfd = open_parent("mknod", a[0], &base);
  if (unlinkat(pfd, base, 0) && errno != ENOENT) die_step("mknod", errno, a[0]);
  if (mknodat(pfd, base, type | (mode_t)(mode & 07777), makedev(major, minor))) die_step("mknod", errno, a[0]);
  if (fchmodat(pfd, base, (mode_t)(mode & 07777), 0)) die_step("mknod", errno, a[0]);
  if (fchownat(pfd, base, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW)) die_step("mknod", errno, a[0]);
  close(pfd);
}

static void step_symlink(const char *target, const char *link) {
  const char *base;
  int pfd = open_parent("symlink", link, &base);
  if (symlinkat(target, pfd, base) && errno != EEXIST) die_step("symlink", errno, link);
  close(pfd);
}

/* Hides a path: an empty read-only tmpfs on a directory, /dev/null on anything else. */
static void step_mask(const char *path) {
  int fd = open_in_root(path, O_PATH);
  if (fd < 0) {
    if (errno == ENOENT) return;
    die_step("mask", errno, path);
  }
  struct stat st;
  if (fstat(fd, &st)) die_step("mask", errno, path);
  char target[64];
  fd_path(fd, target, sizeof target);
  int r = S_ISDIR(st.st_mode) ? mount("tmpfs", target, "tmpfs", MS_RDONLY, NULL)
                              : mount("/dev/null", target, NULL, MS_BIND, NULL);
  if (r) die_step("mask", errno, path);
  close(fd);
}

static void step_readonly(const char *path) {
  int fd = open_in_root(path, O_PATH);
  if (fd < 0) {
    if (errno == ENOENT) return;
    die_step("readonly", errno, path);
  }
  char target[64];
  fd_path(fd, target, sizeof target);
  if (mount(target, target, NULL, MS_BIND | MS_REC, NULL)) die_step("readonly", errno, path);
  close(fd);
  fd = open_in_root(path, O_PATH); /* now the new bind mount */
  if (fd < 0) die_step("readonly", errno, path);
  remount_fd("readonly", fd, MS_BIND | MS_RDONLY, path);
  close(fd);
}

static void step_pivot_root(void) {
  if (fchdir(root_fd)) die_step("pivot-root", errno, ".");
  if (syscall(SYS_pivot_root, ".", ".")) die_step("pivot-root", errno, ".");
  /* The old root now sits on top of "."; detach it without touching the host. */
  if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL)) die_step("pivot-root", errno, "old root");
  if (umount2(".", MNT_DETACH)) die_step("pivot-root", errno, "old root");
  if (chdir("/")) die_step("pivot-root", errno, "/");
  int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) die_step("pivot-root", errno, "/");
  close(root_fd);
  root_fd = fd;
}

static void write_proc(const char *step, const char *path, const char *value) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die_step(step, errno, path);
  if (write_all(fd, value, strlen(value))) die_step(step, errno, path);
  close(fd);
}

static void step_sysctl(const char *key, const char *value) {
  char path[PATH_MAX];
  if (key[0] == '/' || strstr(key, "..")) die_step("sysctl", EINVAL, key);
  snprintf(path, sizeof path, "/proc/sys/%s", key);
  write_proc("sysctl", path, value);
}

static void step_rlimit(char **a) {
  uint64_t res, soft, hard;
  if (parse_u64(a[0], 10, &res) || parse_u64(a[1], 10, &soft) || parse_u64(a[2], 10, &hard))
    die_step("rlimit", EINVAL, a[0]);
  struct rlimit rl = {.rlim_cur = soft, .rlim_max = hard};
  if (setrlimit((int)res, &rl)) die_step("rlimit", errno, a[0]);
}

static uint64_t hex_arg(const char *step, const char *s) {
  uint64_t v;
  if (parse_u64(s, 16, &v)) die_step(step, EINVAL, s);
  return v;
}

static void step_cap_bounding(const char *keep_s) {
  uint64_t keep = hex_arg("cap-bounding", keep_s);
  for (int cap = 0; cap < 64; cap++) {
    if (keep & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)) {
      if (errno == EINVAL) break; /* past the kernel's last capability */
      char n[16];
      snprintf(n, sizeof n, "cap %d", cap);
      die_step("cap-bounding", errno, n);
    }
  }
}

static void step_user(char **a) {
  uint64_t uid, gid;
  if (parse_u64(a[0], 10, &uid) || parse_u64(a[1], 10, &gid)) die_step("user", EINVAL, a[0]);
  gid_t groups[256];
  size_t n = 0;
  for (char *p = a[2]; *p;) {
    char *comma = strchr(p, ',');
    if (comma) *comma = 0;
    uint64_t g;
    if (n == 256 || parse_u64(p, 10, &g)) die_step("user", EINVAL, p);
    groups[n++] = (gid_t)g;
    if (!comma) break;
    p = comma + 1;
  }
  if (setgroups(n, groups)) die_step("user", errno, "setgroups");
  if (setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid)) die_step("user", errno, "setgid");
  if (setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid)) die_step("user", errno, "setuid");
}

static void step_caps(char **a) {
  uint64_t eff = hex_arg("caps", a[0]), perm = hex_arg("caps", a[1]), inh = hex_arg("caps", a[2]);
  struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2] = {
      {.effective = (uint32_t)eff, .permitted = (uint32_t)perm, .inheritable = (uint32_t)inh},
      {.effective = (uint32_t)(eff >> 32), .permitted = (uint32_t)(perm >> 32), .inheritable = (uint32_t)(inh >> 32)},
  };
  if (syscall(SYS_capset, &hdr, data)) die_step("caps", errno, a[0]);
}

static void step_ambient(const char *mask_s) {
  uint64_t mask = hex_arg("ambient", mask_s);
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)) die_step("ambient", errno, "clear");
  for (int cap = 0; cap < 64; cap++)
    if ((mask & (1ULL << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0)) {
      char n[16];
      snprintf(n, sizeof n, "cap %d", cap);
      die_step("ambient", errno, n);
    }
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static void step_seccomp(const char *hex, size_t len, const char *flags_s) {
  uint64_t flags;
  if (parse_u64(flags_s, 16, &flags)) die_step("seccomp", EINVAL, flags_s);
  size_t nbytes = len / 2;
  if (len % 2 || nbytes == 0 || nbytes % sizeof(struct sock_filter) || nbytes / sizeof(struct sock_filter) > 65535)
    die_step("seccomp", EINVAL, "program length");
  unsigned char *prog = malloc(nbytes);
  if (!prog) die_step("seccomp", ENOMEM, "program");
  for (size_t i = 0; i < nbytes; i++) {
    int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) die_step("seccomp", EINVAL, "program bytes");
    prog[i] = (unsigned char)(hi << 4 | lo);
  }
  struct sock_fprog fp = {.len = (unsigned short)(nbytes / sizeof(struct sock_filter)), .filter = (struct sock_filter *)prog};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned)flags, &fp)) die_step("seccomp", errno, "load");
}

static const char *env_get(const char *name) {
  size_t n = strlen(name);
  for (char **e = cmd_env; e && *e; e++)
    if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
  return NULL;
}

/* 0 when path is something exec can run, else the errno exec would give. */
static int runnable(const char *path) {
  struct stat st;
  if (stat(path, &st)) return errno;
  if (S_ISDIR(st.st_mode)) return EISDIR;
  if (!S_ISREG(st.st_mode) || access(path, X_OK)) return EACCES;
  return 0;
}

/* PATH search as execvpe does it, but with the container's PATH from the plan's env. */
static void step_lookup_command(void) {
  if (!cmd_argv || !cmd_argv[0]) die_step("lookup-command", EINVAL, "no command");
  const char *name = cmd_argv[0];
  if (!*name) die_step("lookup-command", ENOENT, name);
  if (strchr(name, '/')) {
    int e = runnable(name);
    if (e) die_step("lookup-command", e, name);
    snprintf(cmd_path, sizeof cmd_path, "%s", name);
    cmd_found = 1;
    return;
  }
  const char *path = env_get("PATH");
  if (!path) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  int denied = 0;
  for (const char *p = path;;) {
    const char *colon = strchrnul(p, ':');
    size_t dl = (size_t)(colon - p);
    char cand[PATH_MAX];
    if (dl == 0) snprintf(cand, sizeof cand, "%s", name);
    else snprintf(cand, sizeof cand, "%.*s/%s", (int)dl, p, name);
    int e = runnable(cand);
    if (e == 0) {
      snprintf(cmd_path, sizeof cmd_path, "%s", cand);
      cmd_found = 1;
      return;
    }
    if (e == EACCES) denied = 1;
    if (!*colon) break;
    p = colon + 1;
  }
  die_step("lookup-command", denied ? EACCES : ENOENT, name);
}

static void step_wait_start(void) {
  /* Without a monitor, the helper exits once we are ready: we must outlive it. */
  if (g_no_monitor) prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  send_ready();
  char path[64];
  fd_path(g_exec_fifo_fd, path, sizeof path);
  /* Blocks until `start` opens the fifo for reading. */
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die_step("wait-start", errno, "exec fifo");
  if (write_all(fd, "0", 1)) die_step("wait-start", errno, "exec fifo");
  close(fd);
  close(g_exec_fifo_fd);
}

/* Allocates the pty in the container's own devpts (so ttyname() works inside),
 * makes its slave our controlling terminal and stdio, and sends the master to the monitor. */
static void step_console(void) {
  if (g_console_fd < 0) die_step("console", EINVAL, "no terminal requested");
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) die_step("console", errno, "/dev/ptmx");
  if (unlockpt(master)) die_step("console", errno, "unlockpt");
  char name[64];
  if (ptsname_r(master, name, sizeof name)) die_step("console", errno, "ptsname");
  int slave = open(name, O_RDWR | O_CLOEXEC);
  if (slave < 0) die_step("console", errno, name);
  for (int i = 0; i < 3; i++)
    if (dup2(slave, i) < 0) die_step("console", errno, name);
  if (ioctl(0, TIOCSCTTY, 0)) die_step("console", errno, "controlling terminal");
  close(slave);
  char cbuf[CMSG_SPACE(sizeof(int))];
  memset(cbuf, 0, sizeof cbuf);
  struct iovec iov = {.iov_base = name, .iov_len = strlen(name)};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &master, sizeof(int));
  if (sendmsg(g_console_fd, &msg, 0) < 0) die_step("console", errno, "send to monitor");
  close(master);
  close(g_console_fd);
  g_console_fd = -1;
}

static void step_exec(void) {
  if (!cmd_found) step_lookup_command();
  send_ready();
  /* Set here, after the user and capability steps: a change of user clears it. With
   * die-with-monitor the container is killed with a killed monitor (nothing would reap
   * it, log it or record its exit); without, it outlives it (OCI: the caller's process). */
  prctl(PR_SET_PDEATHSIG, g_die_with_monitor ? SIGKILL : 0, 0, 0, 0);
  if (g_preserve_fds > 0) {
    /* Move the report pipe out of the way, then the preserved fds down to 3.. */
    int hi = fcntl(g_report_fd, F_DUPFD_CLOEXEC, PRESERVED_FD_BASE + g_preserve_fds);
    if (hi < 0) die_step("preserve-fds", errno, "report pipe");
    g_report_fd = hi;
    for (int i = 0; i < g_preserve_fds; i++)
      if (dup2(PRESERVED_FD_BASE + i, 3 + i) < 0) die_step("preserve-fds", errno, "dup2");
  }
  syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  for (int i = 0; i < g_preserve_fds; i++) fcntl(3 + i, F_SETFD, 0);
  signal(SIGPIPE, SIG_DFL); /* ignored during set-up; an ignored signal would survive execve */
  execve(cmd_path, cmd_argv, cmd_env ? cmd_env : (char *[]){NULL});
  die_step("exec", errno, cmd_path);
}


/* Brings up "lo" in the container's new network namespace: what a network mode
 * of "none" means for users (Docker gives loopback), without a netns file. */
static void step_loopback_up(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die_step("loopback-up", errno, "socket");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) die_step("loopback-up", errno, "lo");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) die_step("loopback-up", errno, "lo");
  close(fd);
}

static void run_step(const struct step *s) {
  const char *n = s->op->name;
  char **a = s->argv;
  if (!strcmp(n, "unshare-cgroupns")) {
    /* Its root is our cgroup now: the monitor moved us before letting us run. */
    if (unshare(CLONE_NEWCGROUP)) die_step(n, errno, "");
  } else if (!strcmp(n, "propagation")) step_propagation(a[0], a[1]);
  else if (!strcmp(n, "rootfs")) step_rootfs(a[0]);
  else if (!strcmp(n, "mkdirs")) step_mkdirs(a[0], a[1]);
  else if (!strcmp(n, "mkfile")) step_mkfile(a[0]);
  else if (!strcmp(n, "mount")) step_mount(a);
  else if (!strcmp(n, "remount")) step_remount(a[0], a[1]);
  else if (!strcmp(n, "mknod")) step_mknod(a);
  else if (!strcmp(n, "symlink")) step_symlink(a[0], a[1]);
  else if (!strcmp(n, "mask")) step_mask(a[0]);
  else if (!strcmp(n, "readonly")) step_readonly(a[0]);
  else if (!strcmp(n, "pivot-root")) step_pivot_root();
  else if (!strcmp(n, "console")) step_console();
  else if (!strcmp(n, "loopback-up")) step_loopback_up();
  else if (!strcmp(n, "hostname")) {
    if (sethostname(a[0], s->lens[0])) die_step(n, errno, a[0]);
  } else if (!strcmp(n, "domainname")) {
    if (setdomainname(a[0], s->lens[0])) die_step(n, errno, a[0]);
  } else if (!strcmp(n, "sysctl")) step_sysctl(a[0], a[1]);
  else if (!strcmp(n, "rlimit")) step_rlimit(a);
  else if (!strcmp(n, "oom-score-adj")) write_proc(n, "/proc/self/oom_score_adj", a[0]);
  else if (!strcmp(n, "cap-bounding")) step_cap_bounding(a[0]);
  else if (!strcmp(n, "keep-caps")) {
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)) die_step(n, errno, "");
  } else if (!strcmp(n, "user")) step_user(a);
  else if (!strcmp(n, "caps")) step_caps(a);
  else if (!strcmp(n, "ambient")) step_ambient(a[0]);
  else if (!strcmp(n, "no-new-privs")) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) die_step(n, errno, "");
  } else if (!strcmp(n, "seccomp")) step_seccomp(a[0], s->lens[0], a[1]);
  else if (!strcmp(n, "chdir")) {
    if (chdir(a[0])) die_step(n, errno, a[0]);
  } else if (!strcmp(n, "umask")) {
    uint64_t m;
    if (parse_u64(a[0], 8, &m) || m > 0777) die_step(n, EINVAL, a[0]);
    umask((mode_t)m);
  } else if (!strcmp(n, "args")) cmd_argv = a, cmd_found = 0;
  else if (!strcmp(n, "env")) cmd_env = a;
  else if (!strcmp(n, "lookup-command")) step_lookup_command();
  else if (!strcmp(n, "wait-start")) step_wait_start();
  else if (!strcmp(n, "exec")) step_exec();
  else die_step(n, ENOSYS, "step not for the container process");
}

void init_run(const struct plan *plan, int sync_fd, int stdio[3]) {
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* die with the monitor during set-up */
  char go;
  if (read(sync_fd, &go, 1) != 1) _exit(1); /* the monitor gave up */
  close(sync_fd);

  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
  /* A report to a helper that already left must fail with EPIPE, not kill us. */
  signal(SIGPIPE, SIG_IGN);

  if (setsid() < 0) die_step("setsid", errno, "");
  for (int i = 0; i < 3; i++)
    if (dup2(stdio[i], i) < 0) die_step("stdio", errno, "");

  root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) die_step("init", errno, "/");
  for (int i = 0; i < plan->nsteps; i++)
    if (plan->steps[i].op->phase == PHASE_INIT) run_step(&plan->steps[i]);
  /* A plan without an exec step only sets up; treat that as a plan error. */
  die_step("exec", EINVAL, "plan has no exec step");
}
