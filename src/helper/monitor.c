/* The monitor: starts the container through a short-lived setup process,
 * then stays as its parent for its whole life. It holds the state dir's lock
 * (liveness), owns the container's stdio (logs as JSON lines, relay when
 * attached), forwards signals, reaps, and records the exit status. */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>


struct config {
  const char *lock_file, *exit_file, *pid_file, *started_file, *log_file, *exec_fifo, *console_socket, *attach_socket;
  const char *caller_lock; /* attached: flocked by the caller while the exit is its part (PLAN.md) */
  int detach, stdin_open, terminal, inherit_stdio, new_session;
  int caller_stdio; /* attached: fds 0-2 are the caller's, used only while it holds the status pipe's read end */
  unsigned rows, cols;
  char *const *exit_command; /* argv run after the exit file is written: detached, or attached once the caller let go */
  const struct step *runtime_create; /* an OCI runtime's create makes the container instead of our clone */
  const char *console_receive; /* runtime-create: where the runtime sends the container's pty master */
};

/* Output of one stream, cut into lines for the log as Docker's json-file does. */
struct stream {
  const char *name;
  int type;     /* its frame type on the attach socket */
  int fd;       /* read end, -1 once at EOF */
  int relay_fd; /* our own stdout/stderr when attached, else -1 */
  char line[16384];
  size_t used;
};

static struct config cfg;
static int log_fd = -1;
static pid_t child = -1;
static struct termios saved_tty;
static int tty_saved;
static char esc[16384 * 6 + 64];
static char entry[sizeof esc + 128];

static void restore_tty(void) {
  if (tty_saved) tcsetattr(0, TCSANOW, &saved_tty);
  tty_saved = 0;
}

/* Reports an error to the caller and ends the monitor (and the container with it). */
static void fail(const char *step, int err, const char *path) {
  report_error(step, err, path);
  if (child > 0) kill(child, SIGKILL);
  restore_tty();
  _exit(1);
}

static void read_config(const struct plan *plan) {
  for (int i = 0; i < plan->nsteps; i++) {
    const struct step *s = &plan->steps[i];
    const char *n = s->op->name;
    if (!strcmp(n, "runtime-create")) cfg.runtime_create = s;
    if (s->op->phase != PHASE_CONFIG) continue;
    if (!strcmp(n, "lock-file")) cfg.lock_file = s->argv[0];
    else if (!strcmp(n, "exit-file")) cfg.exit_file = s->argv[0];
    else if (!strcmp(n, "pid-file")) cfg.pid_file = s->argv[0];
    else if (!strcmp(n, "started-file")) cfg.started_file = s->argv[0];
    else if (!strcmp(n, "log-file")) cfg.log_file = s->argv[0];
    else if (!strcmp(n, "exec-fifo")) cfg.exec_fifo = s->argv[0];
    else if (!strcmp(n, "console-socket")) cfg.console_socket = s->argv[0];
    else if (!strcmp(n, "console-receive")) cfg.console_receive = s->argv[0];
    else if (!strcmp(n, "attach-socket")) cfg.attach_socket = s->argv[0];
    else if (!strcmp(n, "detach")) cfg.detach = 1;
    else if (!strcmp(n, "new-session")) cfg.new_session = 1;
    else if (!strcmp(n, "caller-lock")) cfg.caller_lock = s->argv[0];
    else if (!strcmp(n, "caller-stdio")) cfg.caller_stdio = 1;
    else if (!strcmp(n, "exit-command")) cfg.exit_command = s->argv;
    else if (!strcmp(n, "stdin")) cfg.stdin_open = 1;
    else if (!strcmp(n, "terminal")) cfg.terminal = 1;
    else if (!strcmp(n, "inherit-stdio")) cfg.inherit_stdio = 1;
    else if (!strcmp(n, "no-monitor")) g_no_monitor = 1;
    else if (!strcmp(n, "die-with-monitor")) g_die_with_monitor = 1;
    else if (!strcmp(n, "preserve-fds")) {
      uint64_t v;
      if (parse_u64(s->argv[0], 10, &v) || v > 1024) fail("preserve-fds", EINVAL, s->argv[0]);
      g_preserve_fds = (int)v;
    }
    else if (!strcmp(n, "console-size")) {
      uint64_t r, c;
      if (parse_u64(s->argv[0], 10, &r) || parse_u64(s->argv[1], 10, &c) || r > 65535 || c > 65535)
        fail("console-size", EINVAL, s->argv[0]);
      cfg.rows = (unsigned)r, cfg.cols = (unsigned)c;
    }
  }
  if (!cfg.lock_file || !cfg.exit_file) fail("config", EINVAL, "lock-file and exit-file are required");
  if (g_no_monitor && cfg.detach) fail("config", EINVAL, "no-monitor and detach exclude each other");
  if (g_no_monitor && g_die_with_monitor) fail("config", EINVAL, "no-monitor and die-with-monitor exclude each other");
  if (cfg.new_session && (cfg.detach || g_no_monitor)) fail("config", EINVAL, "new-session is for an attached monitor");
  if (cfg.caller_stdio && (cfg.detach || g_no_monitor || cfg.inherit_stdio))
    fail("config", EINVAL, "caller-stdio is for an attached monitor that relays the container's stdio");
  if (cfg.caller_lock && (cfg.detach || g_no_monitor || !cfg.exit_command))
    fail("config", EINVAL, "caller-lock is for an attached monitor with an exit-command");
  if (cfg.exit_command && !cfg.detach && !cfg.caller_lock) fail("config", EINVAL, "an attached exit-command needs a caller-lock");
  if (cfg.attach_socket && (g_no_monitor || cfg.inherit_stdio || cfg.console_socket))
    fail("config", EINVAL, "attach-socket needs the monitor to own the container's stdio");
  if (g_no_monitor && cfg.terminal && !cfg.console_socket) fail("config", EINVAL, "no-monitor with a terminal needs a console-socket");
  if (cfg.runtime_create && (cfg.terminal || cfg.console_socket || cfg.inherit_stdio || cfg.exec_fifo || g_no_monitor || g_die_with_monitor || g_preserve_fds))
    fail("config", EINVAL, "runtime-create: the runtime's container gets the monitor's pipes or, with console-receive, the runtime's pty (no terminal, console-socket, inherit-stdio, exec-fifo, no-monitor, die-with-monitor or preserve-fds)");
  if (cfg.console_receive && !cfg.runtime_create) fail("config", EINVAL, "console-receive is for a runtime-create plan");
  /* From here on the runtime's pty is the container's terminal, as the one our console step makes. */
  if (cfg.console_receive) cfg.terminal = 1;
  for (int i = 0; i < g_preserve_fds; i++)
    if (fcntl(PRESERVED_FD_BASE + i, F_GETFD) < 0) fail("preserve-fds", EBADF, "fd not passed");
}

static void log_entry(struct stream *s, const char *data, size_t len) {
  if (log_fd < 0 || len == 0) return;
  char now[48];
  rfc3339_now(now, sizeof now);
  json_escape(esc, sizeof esc, (const unsigned char *)data, len);
  int n = snprintf(entry, sizeof entry, "{\"log\":\"%s\",\"stream\":\"%s\",\"time\":\"%s\"}\n", esc, s->name, now);
  if (n > 0) write_all(log_fd, entry, (size_t)n);
}

static void log_bytes(struct stream *s, const char *data, size_t len) {
  for (size_t i = 0; i < len; i++) {
    s->line[s->used++] = data[i];
    if (data[i] == '\n' || s->used == sizeof s->line) {
      log_entry(s, s->line, s->used);
      s->used = 0;
    }
  }
}

/* caller-stdio, while the caller lives: its death (POLLERR on our end of the status pipe, which
 * it alone reads) ends the relay to its stdout/stderr. */
static int watch_caller;

/* The caller's stdout or stderr as we write to it: for a pipe or a terminal, a description of our
 * own opened non-blocking (O_NONBLOCK on the caller's would change it for everyone who shares it),
 * so a write never sleeps. Anything else (a regular file, which must keep its O_APPEND and offset;
 * a socket) is used as it is. */
static int relay_target(int fd) {
  struct stat st;
  if (fstat(fd, &st) || !(S_ISFIFO(st.st_mode) || isatty(fd))) return fd;
  char path[32];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  int own = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  return own >= 0 ? own : fd;
}

/* Waits until fd has room, or until the relay ends (the reader or the caller is gone): 0 or -1. */
static int wait_room(int fd) {
  for (;;) {
    struct pollfd pf[2] = {{.fd = fd, .events = POLLOUT}, {.fd = watch_caller ? STATUS_FD : -1, .events = 0}};
    if (poll(pf, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (pf[1].revents || (pf[0].revents & (POLLERR | POLLNVAL))) return -1;
    if (pf[0].revents & POLLOUT) return 0;
    if (pf[0].revents & POLLHUP) return -1; /* no room will come */
  }
}

/* Relays to the caller's stdout/stderr: while its reader is slow (a paused pager, a frozen
 * terminal) we wait for room or for the caller's death, whichever comes first, so a caller killed
 * meanwhile no longer holds the container up. Our own description (any fd above 2: relay_target)
 * is non-blocking; on the caller's own, once poll says there is room, a write of at most PIPE_BUF
 * bytes does not block on a pipe. Returns -1 when the relay ends. */
static int relay_write(int fd, const char *buf, size_t len) {
  int own = fd > 2;
  while (len > 0) {
    if (!own && wait_room(fd)) return -1;
    ssize_t n = write(fd, buf, own || len < PIPE_BUF ? len : PIPE_BUF);
    if (n > 0) {
      buf += n;
      len -= (size_t)n;
    } else if (n < 0 && errno == EAGAIN) {
      if (own && wait_room(fd)) return -1;
    } else if (n >= 0 || errno != EINTR) {
      return -1;
    }
  }
  return 0;
}

/* Ends the relay to the caller (it is gone): our own descriptors of its stdio go. */
static void end_relay(int *relay_fd) {
  if (*relay_fd > 2) close(*relay_fd);
  *relay_fd = -1;
}

/* Reads what is available; returns 0 at EOF (also EIO from a pty whose slave closed). */
static int pump(struct stream *s) {
  char buf[ATTACH_FRAME_MAX];
  ssize_t n = read(s->fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
  if (n <= 0) {
    log_entry(s, s->line, s->used);
    s->used = 0;
    close(s->fd);
    s->fd = -1;
    return 0;
  }
  log_bytes(s, buf, (size_t)n);
  if (s->relay_fd >= 0 && relay_write(s->relay_fd, buf, (size_t)n)) end_relay(&s->relay_fd);
  attach_broadcast(s->type, buf, (size_t)n);
  return 1;
}

static void send_console(int master) {
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (sock < 0) fail("console-socket", errno, cfg.console_socket);
  if (strlen(cfg.console_socket) >= sizeof addr.sun_path) fail("console-socket", ENAMETOOLONG, cfg.console_socket);
  strcpy(addr.sun_path, cfg.console_socket);
  if (connect(sock, (struct sockaddr *)&addr, sizeof addr)) fail("console-socket", errno, cfg.console_socket);
  char cbuf[CMSG_SPACE(sizeof(int))] = {0};
  char name[] = "/dev/ptmx";
  struct iovec iov = {.iov_base = name, .iov_len = sizeof name - 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &master, sizeof(int));
  if (sendmsg(sock, &msg, 0) < 0) fail("console-socket", errno, cfg.console_socket);
  close(sock);
}

/* The pty master a message on sock carries (SCM_RIGHTS: the runtime-spec's console-socket
 * protocol, which our own console step follows too); -1 if none. flags: e.g. MSG_DONTWAIT. */
static int recv_console(int sock, int flags) {
  char name[128], cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {.iov_base = name, .iov_len = sizeof name};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  ssize_t n;
  while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags)) < 0 && errno == EINTR) {}
  if (n < 0) return -1; /* errno: EAGAIN when nothing came yet */
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  if (n == 0 || !cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) return errno = EPROTO, -1;
  /* The buffer has room for two fds: only the first is the master, any other goes. */
  int fds[2] = {-1, -1};
  size_t nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
  memcpy(fds, CMSG_DATA(cm), (nfds < 2 ? nfds : 2) * sizeof(int));
  if (nfds > 1) close(fds[1]);
  if (nfds < 1 || (msg.msg_flags & MSG_CTRUNC) || !isatty(fds[0])) {
    if (nfds >= 1) close(fds[0]);
    return errno = EPROTO, -1;
  }
  return fds[0];
}

static void write_pid_file(pid_t pid) {
  if (!cfg.pid_file) return;
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%d\n", (int)pid);
  if (write_file_atomic(cfg.pid_file, buf, (size_t)n)) fail("pid-file", errno, cfg.pid_file);
}

/* Our copies of the container's stdio, once it (or the runtime that makes it) has them; 1 and 2 may be one fd. */
static void close_stdio(const int cstdio[3]) {
  for (int i = 0; i < 3; i++)
    if (i == 0 || cstdio[i] != cstdio[i - 1]) close(cstdio[i]);
}

/* `created PID MONITORPID`: the container is set up and waits for start (or is about to exec). */
static void report_created(void) {
  char p1[16], p2[16];
  snprintf(p1, sizeof p1, "%d", (int)child);
  snprintf(p2, sizeof p2, "%d", (int)getpid());
  const char *f[] = {"created", p1, p2};
  ns_msg(STATUS_FD, 3, f);
}

/* Runs the PHASE_PARENT steps: id maps (one write per file, as the kernel requires) and cgroups. */
static void parent_steps(const struct plan *plan, pid_t pid) {
  char uid_map[4096] = "", gid_map[4096] = "";
  for (int i = 0; i < plan->nsteps; i++) {
    const struct step *s = &plan->steps[i];
    if (s->op->phase != PHASE_PARENT) continue;
    const char *n = s->op->name;
    if (!strcmp(n, "uid-map") || !strcmp(n, "gid-map")) {
      char *map = n[0] == 'u' ? uid_map : gid_map;
      size_t used = strlen(map);
      snprintf(map + used, sizeof uid_map - used, "%s %s %s\n", s->argv[0], s->argv[1], s->argv[2]);
    }
  }
  char path[64];
  if (uid_map[0] || gid_map[0]) {
    /* gid first is not required for root; write uid then gid like newuidmap does. */
    const char *maps[2][2] = {{"uid_map", uid_map}, {"gid_map", gid_map}};
    for (int m = 0; m < 2; m++) {
      if (!maps[m][1][0]) continue;
      snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, maps[m][0]);
      int fd = open(path, O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write_all(fd, maps[m][1], strlen(maps[m][1]))) fail(m ? "gid-map" : "uid-map", errno, path);
      close(fd);
    }
  }
  char pidbuf[16];
  snprintf(pidbuf, sizeof pidbuf, "%d", (int)pid);
  for (int i = 0; i < plan->nsteps; i++) {
    const struct step *s = &plan->steps[i];
    if (strcmp(s->op->name, "cgroup-procs")) continue;
    int fd = open(s->argv[0], O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write_all(fd, pidbuf, strlen(pidbuf))) fail("cgroup-procs", errno, s->argv[0]);
    close(fd);
  }
}

/* The setup process: joins namespaces, clones the container as our sibling's
 * child of the monitor (CLONE_PARENT), sends its pid, and exits. */
static void setup_process(const struct plan *plan, int pid_w, int init_w, int sync_r, int stdio[3]) {
  g_report_fd = init_w;
  int nsfd[64], nns = 0, types[64];
  uint64_t flags = 0;
  static const struct { const char *name; int flag; } NS[] = {
      {"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS}, {"pid", CLONE_NEWPID}, {"net", CLONE_NEWNET},
      {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"cgroup", CLONE_NEWCGROUP}, {"time", 0x00000080}};
  /* Open every namespace first: joining a mount namespace changes what paths mean. */
  for (int i = 0; i < plan->nsteps; i++) {
    const struct step *s = &plan->steps[i];
    if (!strcmp(s->op->name, "clone")) {
      if (parse_u64(s->argv[0], 16, &flags)) die_step("clone", EINVAL, s->argv[0]);
    }
    if (strcmp(s->op->name, "setns")) continue;
    int type = -1;
    for (size_t k = 0; k < sizeof NS / sizeof NS[0]; k++)
      if (!strcmp(NS[k].name, s->argv[0])) type = NS[k].flag;
    if (type < 0 || nns == 64) die_step("setns", EINVAL, s->argv[0]);
    nsfd[nns] = open(s->argv[1], O_RDONLY | O_CLOEXEC);
    if (nsfd[nns] < 0) die_step("setns", errno, s->argv[1]);
    types[nns++] = type;
  }
  for (int i = 0; i < nns; i++) {
    if (setns(nsfd[i], types[i])) {
      char what[32];
      snprintf(what, sizeof what, "namespace #%d", i);
      die_step("setns", errno, what);
    }
    close(nsfd[i]);
  }
  pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)(flags | CLONE_PARENT | SIGCHLD), NULL, NULL, NULL, 0);
  if (pid < 0) die_step("clone", errno, "");
  if (pid == 0) {
    close(pid_w);
    init_run(plan, sync_r, stdio);
  }
  int32_t p = pid;
  write_all(pid_w, &p, sizeof p);
  _exit(0);
}

/* Appends what fd has to the runtime's output in said (at most its size - 1); 0 at EOF or error. */
static int take_output(int fd, char *said, size_t cap, size_t *used) {
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n < 0 && errno == EINTR) return 1;
  if (n <= 0) return 0;
  size_t c = (size_t)n < cap - 1 - *used ? (size_t)n : cap - 1 - *used;
  memcpy(said + *used, buf, c);
  *used += c;
  return 1;
}

/* The pid the runtime wrote to its pid file, if that process is our child (ppid: field 4 of stat). */
static pid_t runtime_pid(const char *pid_file) {
  char buf[512];
  int fd = open(pid_file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("runtime-create", errno, pid_file);
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  int64_t pid;
  if (n <= 0) fail("runtime-create", EINVAL, pid_file);
  buf[n] = 0;
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = 0;
  if (parse_i64(buf, &pid) || pid <= 0 || pid > 0x7fffffff) fail("runtime-create", EINVAL, pid_file);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
  if (fd >= 0) close(fd);
  if (n <= 0) fail("runtime-create", ESRCH, path);
  buf[n] = 0;
  const char *rest = strrchr(buf, ')');
  int ppid = -1;
  if (!rest || sscanf(rest, ") %*c %d", &ppid) != 1 || ppid != (int)getpid())
    fail("runtime-create", ECHILD, "the runtime's container process is not the monitor's child");
  return (pid_t)pid;
}

/* console-receive, one turn: accept the runtime's connection on the listener (lis), then take
 * the master it sends on that connection (conn). Without a master on it (it closed first), the
 * next connection is taken; once the master is here, no other is listened for. */
static void console_turn(struct pollfd *lis, struct pollfd *conn, int *master) {
  if (conn->fd < 0 && lis->fd >= 0) {
    int c = accept4(lis->fd, NULL, NULL, SOCK_CLOEXEC); /* EAGAIN: no one yet */
    if (c >= 0) conn->fd = c;
  }
  if (conn->fd >= 0) {
    int m = recv_console(conn->fd, MSG_DONTWAIT);
    if (m >= 0 || errno != EAGAIN) {
      close(conn->fd);
      conn->fd = -1;
      if (m >= 0) *master = m, lis->fd = -1;
    }
  }
  /* One connection at a time: while it is open, a second one waiting on the listener must not wake us. */
  lis->events = conn->fd >= 0 ? 0 : POLLIN;
}

/* runtime-create PIDFILE ARGV...: an OCI runtime's `create` (its argv is the plan's) makes the
 * container with our pipes as its stdio, which the runtime hands on to the container. Until the
 * command ends, what reaches the pipes is the runtime's own (the container waits for `start`): it
 * is kept for the error report and never logged. The container's process, the command's child,
 * is reparented to us (a subreaper) when the command exits; the runtime wrote its pid to PIDFILE.
 * Signals we get meanwhile go to the command.
 * With console-receive (console_listen >= 0) the container's stdio is the runtime's pty: the
 * runtime connects to that socket while its create runs and sends the master, which is put in
 * *master; a create that succeeds without sending one fails. */
static pid_t runtime_create(const struct step *s, const int cstdio[3], int out_fd, int err_fd, int sfd, int console_listen, int *master) {
  int ep[2];
  if (pipe2(ep, O_CLOEXEC)) fail("runtime-create", errno, "pipe");
  pid_t monitor = getpid();
  pid_t rt = fork();
  if (rt < 0) fail("runtime-create", errno, "fork");
  if (rt == 0) {
    /* A monitor that dies (killed) while the runtime creates must not leave it making a container
     * no one keeps: the caller then deletes what it finds, and a create still running would
     * finish after that. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) || getppid() != monitor) _exit(127);
    int high[3];
    for (int i = 0; i < 3; i++) high[i] = fcntl(cstdio[i], F_DUPFD_CLOEXEC, 10);
    for (int i = 0; i < 3; i++) dup2(high[i], i);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    execv(s->argv[1], s->argv + 1);
    int e = errno;
    write_all(ep[1], &e, sizeof e);
    _exit(127);
  }
  close(ep[1]);
  close_stdio(cstdio); /* the runtime has them: the pipes reach EOF once the container's copies close */
  int exec_errno = 0;
  ssize_t got;
  while ((got = read(ep[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {}
  close(ep[0]);
  if (got == (ssize_t)sizeof exec_errno) {
    waitpid(rt, NULL, 0);
    fail("runtime-create", exec_errno, s->argv[1]);
  }
  static char said[2048];
  size_t used = 0;
  int st = 0;
  struct pollfd pf[5] = {{.fd = sfd, .events = POLLIN}, {.fd = out_fd, .events = POLLIN}, {.fd = err_fd, .events = POLLIN},
                         {.fd = console_listen, .events = POLLIN}, {.fd = -1, .events = POLLIN}};
  while (waitpid(rt, &st, WNOHANG) != rt) {
    if (poll(pf, 5, -1) < 0 && errno != EINTR) {
      int e = errno;
      kill(rt, SIGKILL);
      waitpid(rt, NULL, 0);
      fail("runtime-create", e, "poll");
    }
    for (int i = 1; i < 3; i++)
      if (pf[i].revents && !take_output(pf[i].fd, said, sizeof said, &used)) pf[i].fd = -1;
    if (pf[3].revents || pf[4].revents) console_turn(&pf[3], &pf[4], master);
    struct signalfd_siginfo si;
    if ((pf[0].revents & POLLIN) && read(sfd, &si, sizeof si) == sizeof si && si.ssi_signo != SIGCHLD && si.ssi_signo != SIGWINCH)
      kill(rt, (int)si.ssi_signo);
  }
  /* A master sent just before the command ended waits in the socket: take it now. */
  if (console_listen >= 0) {
    console_turn(&pf[3], &pf[4], master);
    if (pf[4].fd >= 0) close(pf[4].fd);
  }
  /* What it wrote just before it ended (bounded: a container that a runtime started at create,
   * against the spec, may write on and on). */
  for (int i = 1; i < 3; i++) {
    struct pollfd one = {.fd = pf[i].fd, .events = POLLIN};
    for (int reads = 0; one.fd >= 0 && reads < 64 && poll(&one, 1, 0) == 1 && take_output(one.fd, said, sizeof said, &used); reads++) {}
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    while (used > 0 && (said[used - 1] == '\n' || said[used - 1] == ' ')) used--;
    said[used] = 0;
    if (!used) {
      if (WIFEXITED(st)) snprintf(said, sizeof said, "exited with status %d", WEXITSTATUS(st));
      else snprintf(said, sizeof said, "killed by signal %d", WTERMSIG(st));
    }
    fail("runtime-create", 0, said); /* errno 0: PATH is the runtime's output */
  }
  if (console_listen >= 0 && *master < 0) fail("runtime-create", 0, "it sent no terminal to the console socket");
  return runtime_pid(s->argv[0]);
}

/* Collects init-pipe messages: netstrings ended by an empty one. */
struct msgbuf {
  char data[8192];
  size_t used;
};

/* Pops one complete message into fields; returns the field count or 0 if incomplete. */
static int pop_msg(struct msgbuf *mb, char fields[6][2048]) {
  size_t pos = 0;
  int nf = 0;
  for (;;) {
    size_t n = 0, p = pos;
    while (p < mb->used && mb->data[p] >= '0' && mb->data[p] <= '9') n = n * 10 + (size_t)(mb->data[p++] - '0');
    if (p >= mb->used || mb->data[p] != ':' || p + 1 + n >= mb->used) return 0;
    if (n == 0) {
      pos = p + 2;
      break;
    }
    if (nf < 6) {
      size_t c = n < 2047 ? n : 2047;
      memcpy(fields[nf], mb->data + p + 1, c);
      fields[nf][c] = 0;
      nf++;
    }
    pos = p + 1 + n + 1;
  }
  memmove(mb->data, mb->data + pos, mb->used - pos);
  mb->used -= pos;
  return nf;
}

static void write_exit_file(int status, const char *err_step, int err_no, const char *err_path) {
  char now[48], sigbuf[24], buf[8192], e1[2048], e2[2048];
  rfc3339_now(now, sizeof now);
  int code = 0, n;
  const char *sig = NULL;
  if (WIFEXITED(status)) code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) {
    code = 128 + WTERMSIG(status);
    sig = signal_name(WTERMSIG(status), sigbuf, sizeof sigbuf);
  }
  n = snprintf(buf, sizeof buf, "{\"exitCode\":%d,", code);
  if (sig) n += snprintf(buf + n, sizeof buf - (size_t)n, "\"signal\":\"%s\",", sig);
  if (err_step) {
    json_escape(e1, sizeof e1, (const unsigned char *)err_step, strlen(err_step));
    json_escape(e2, sizeof e2, (const unsigned char *)err_path, strnlen(err_path, 300));
    n += snprintf(buf + n, sizeof buf - (size_t)n, "\"error\":{\"step\":\"%s\",\"errno\":%d,\"path\":\"%s\"},", e1, err_no, e2);
  }
  n += snprintf(buf + n, sizeof buf - (size_t)n, "\"finishedAt\":\"%s\"}\n", now);
  write_file_atomic(cfg.exit_file, buf, (size_t)n);
}

static void null_stdio(void) {
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, 0), dup2(null, 1), dup2(null, 2);
    if (null > 2) close(null);
  }
}

/* No monitor: report `created` once the container waits for start (or, for an
 * exec, once execve succeeded) and leave; the caller's subreaper inherits it. */
static int finish_without_monitor(int init_fd) {
  struct msgbuf mb = {.used = 0};
  char fields[6][2048], p1[16];
  int ready = 0;
  snprintf(p1, sizeof p1, "%d", (int)child);
  for (;;) {
    ssize_t n = read(init_fd, mb.data + mb.used, sizeof mb.data - mb.used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break; /* EOF: execve succeeded (close-on-exec) or the process died */
    mb.used += (size_t)n;
    int nf;
    while ((nf = pop_msg(&mb, fields)) > 0) {
      if (!strcmp(fields[0], "ready") && !ready) {
        ready = 1;
        const char *f[] = {"created", p1, "0"};
        ns_msg(STATUS_FD, 3, f);
        if (cfg.exec_fifo) return 0; /* it now blocks on the exec fifo until `start` */
      } else if (!strcmp(fields[0], "error") && nf >= 4) {
        report_error(fields[1], atoi(fields[2]), fields[3]);
        kill(child, SIGKILL);
        return 1;
      }
    }
  }
  if (!ready) {
    report_error("init", EPROTO, "container process ended during set-up");
    return 1;
  }
  const char *f[] = {"started"};
  ns_msg(STATUS_FD, 1, f);
  return 0;
}

/* Our own container: the setup process joins the namespaces and clones it; once its pid is
 * known the parent steps run, then it may go on. Returns the init pipe (its reports). */
static int clone_container(const struct plan *plan, int cstdio[3], int console_child_end) {
  int pidp[2], initp[2], syncp[2];
  if (pipe2(pidp, O_CLOEXEC) || pipe2(initp, O_CLOEXEC) || pipe2(syncp, O_CLOEXEC)) fail("pipe", errno, "");
  pid_t setup = fork();
  if (setup < 0) fail("fork", errno, "");
  if (setup == 0) {
    close(pidp[0]), close(initp[0]), close(syncp[1]);
    setup_process(plan, pidp[1], initp[1], syncp[0], cstdio);
  }
  close(pidp[1]), close(initp[1]), close(syncp[0]);
  if (console_child_end >= 0) close(console_child_end);
  close_stdio(cstdio);
  for (int i = 0; i < g_preserve_fds; i++) close(PRESERVED_FD_BASE + i); /* the container has them now */
  /* A detached monitor must not hold the caller's pipes open for the container's whole life. */
  if (cfg.inherit_stdio && cfg.detach) null_stdio();

  int32_t cpid = 0;
  ssize_t got = read(pidp[0], &cpid, sizeof cpid);
  while (got < 0 && errno == EINTR) got = read(pidp[0], &cpid, sizeof cpid);
  waitpid(setup, NULL, 0);
  if (got != sizeof cpid) {
    /* The setup process failed: relay what it said. */
    struct msgbuf mb = {.used = 0};
    char fields[6][2048];
    ssize_t n;
    while ((n = read(initp[0], mb.data + mb.used, sizeof mb.data - mb.used)) > 0) mb.used += (size_t)n;
    if (pop_msg(&mb, fields) >= 4) {
      int e = atoi(fields[2]);
      report_error(fields[1], e, fields[3]);
    } else report_error("setup", EPROTO, "setup process ended without a report");
    _exit(1);
  }
  child = cpid;
  close(pidp[0]);
  parent_steps(plan, child);
  write_pid_file(child);
  if (write_all(syncp[1], "1", 1)) fail("sync", errno, "");
  close(syncp[1]);
  return initp[0];
}

static void copy_winsize(int master) {
  struct winsize ws;
  if (isatty(0) && ioctl(0, TIOCGWINSZ, &ws) == 0) ioctl(master, TIOCSWINSZ, &ws);
}

static int lock_fd = -1;

/* The monitor's last act for a detached container: release the lock (so the
 * container reads as stopped) and become the exit command, which decides what
 * happens next (--rm, restart policies). No policy here: the argv is given. */
static void run_exit_command(void) {
  if (lock_fd >= 0) close(lock_fd), lock_fd = -1;
  int devnull = open("/dev/null", O_RDWR);
  if (devnull >= 0) dup2(devnull, 0), dup2(devnull, 1), dup2(devnull, 2);
  /* The command starts as any program does: nothing blocked (the monitor reads its signals
   * through a signalfd; a blocked SIGCHLD would hide its children's exits), SIGPIPE default. */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  execv(cfg.exit_command[0], cfg.exit_command);
  _exit(127);
}

/* caller-lock, opened at start: the same file the caller locked, whatever becomes of its path. */
static int caller_fd = -1;

/* Attached: what follows the exit (recording it, --rm) is the caller's part while it holds
 * caller-lock. We exit with the code (the caller waits for that); a child of ours waits for
 * the lock and, once the caller let go of it, runs the exit command unless the caller wrote
 * "done" first. A caller killed at any moment thus leaves its part to the exit command. */
static void hand_off_exit(void) {
  if (lock_fd >= 0) close(lock_fd), lock_fd = -1; /* stopped now, for whoever reads the state */
  /* No child (fork failed): the caller still does its part; only its death would go unhandled. */
  if (fork() != 0) return;
  null_stdio();
  setsid(); /* out of the caller's process group: a kill of the group must not take us along */
  /* Signals the caller's group got before setsid wait here, blocked as in the monitor: they are not
   * ours, and unblocked by the exit command's exec they would end us first. */
  sigset_t all;
  sigfillset(&all);
  const struct timespec now = {0, 0};
  while (sigtimedwait(&all, NULL, &now) > 0) {}
  /* Any other flock error: run the exit command now; what it does is safe to do twice. */
  while (flock(caller_fd, LOCK_EX) < 0 && errno == EINTR) {}
  char mark[4];
  if (pread(caller_fd, mark, sizeof mark, 0) == (ssize_t)sizeof mark && !memcmp(mark, "done", 4)) _exit(0);
  run_exit_command();
}

int monitor_main(const struct plan *plan) {
  read_config(plan);
  /* Signals the caller's terminal or process group gets (Ctrl-C, kill -9 of the group) reach
   * the caller only; it forwards what it means to. */
  if (cfg.new_session && setsid() < 0) fail("new-session", errno, "");
  if (cfg.caller_lock) {
    caller_fd = open(cfg.caller_lock, O_RDONLY | O_CLOEXEC);
    if (caller_fd < 0) fail("caller-lock", errno, cfg.caller_lock);
  }
  signal(SIGPIPE, SIG_IGN);
  fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC);

  if (cfg.detach) {
    pid_t p = fork();
    if (p < 0) fail("detach", errno, "");
    if (p > 0) _exit(0); /* the caller waits on the status fd, not on us */
    setsid();
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, 0), dup2(null, 1), dup2(null, 2);
      if (null > 2) close(null);
    }
  }

  int lock = open(cfg.lock_file, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock < 0) fail("lock", errno, cfg.lock_file);
  if (flock(lock, LOCK_EX | LOCK_NB)) fail("lock", errno, cfg.lock_file);
  lock_fd = lock;
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

  if (cfg.exec_fifo) {
    if (mkfifo(cfg.exec_fifo, 0600)) fail("exec-fifo", errno, cfg.exec_fifo);
    g_exec_fifo_fd = open(cfg.exec_fifo, O_PATH | O_CLOEXEC);
    if (g_exec_fifo_fd < 0) fail("exec-fifo", errno, cfg.exec_fifo);
  }
  if (cfg.log_file) {
    log_fd = open(cfg.log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (log_fd < 0) fail("log-file", errno, cfg.log_file);
  }

  int attached = !cfg.detach;
  struct stream out = {.name = "stdout", .type = ATTACH_STDOUT, .fd = -1, .relay_fd = attached ? relay_target(1) : -1};
  struct stream err = {.name = "stderr", .type = ATTACH_STDERR, .fd = -1, .relay_fd = attached ? relay_target(2) : -1};
  int cstdio[3], master = -1, in_w = -1, relay_stdin = 0;
  int consp[2] = {-1, -1};
  if (cfg.terminal && !cfg.console_receive) {
    /* The container allocates its pty in its own devpts and sends us the master. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, consp)) fail("terminal", errno, "socketpair");
    g_console_fd = consp[1];
    cstdio[0] = cstdio[1] = cstdio[2] = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (cstdio[0] < 0) fail("stdio", errno, "/dev/null");
  } else if (cfg.inherit_stdio) {
    /* The container gets our own stdio (e.g. the pipes of conmon or a shim): no relay, no log. */
    for (int i = 0; i < 3; i++) {
      cstdio[i] = fcntl(i, F_DUPFD_CLOEXEC, 3);
      if (cstdio[i] < 0) fail("stdio", errno, "inherit");
    }
  } else {
    int po[2], pe[2], pi[2];
    if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC)) fail("stdio", errno, "pipe");
    out.fd = po[0], err.fd = pe[0];
    cstdio[1] = po[1], cstdio[2] = pe[1];
    /* console-receive: these pipes carry the runtime's own output only; its pty is the container's stdio. */
    if (cfg.stdin_open && !cfg.terminal) {
      if (pipe2(pi, O_CLOEXEC)) fail("stdio", errno, "pipe");
      cstdio[0] = pi[0], in_w = pi[1];
      relay_stdin = attached;
    } else {
      cstdio[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (cstdio[0] < 0) fail("stdio", errno, "/dev/null");
    }
  }

  sigset_t mask;
  sigemptyset(&mask);
  int fwd[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD};
  for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++) sigaddset(&mask, fwd[i]);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
  if (sfd < 0) fail("signalfd", errno, "");
  /* Before the container exists, so a client may attach before `start` (close-on-exec: it never reaches the command). */
  if (cfg.attach_socket && attach_listen(cfg.attach_socket)) fail("attach-socket", errno, cfg.attach_socket);

  int init_fd, ready = 0;
  if (cfg.runtime_create) {
    /* The runtime sets the container up and reports no steps: created once its create succeeded. */
    int console_listen = -1;
    if (cfg.console_receive && (console_listen = unix_listen(cfg.console_receive, 1)) < 0) fail("console-receive", errno, cfg.console_receive);
    child = runtime_create(cfg.runtime_create, cstdio, out.fd, err.fd, sfd, console_listen, &master);
    if (console_listen >= 0) {
      close(console_listen);
      unlink(cfg.console_receive);
      /* The runtime's own output has ended with its create: from now on the pty is the container's output. */
      close(out.fd), close(err.fd);
      out.fd = err.fd = -1;
    }
    write_pid_file(child);
    report_created();
    init_fd = -1, ready = 1;
  } else {
    init_fd = clone_container(plan, cstdio, consp[1]);
  }
  if (g_no_monitor && !cfg.terminal) return finish_without_monitor(init_fd);
  if (cfg.terminal) {
    if (!cfg.console_receive) {
      master = recv_console(consp[0], 0); /* -1 if the container failed before its console step */
      close(consp[0]);
    }
    if (master >= 0) {
      struct winsize ws = {.ws_row = (unsigned short)cfg.rows, .ws_col = (unsigned short)cfg.cols};
      if (cfg.rows && cfg.cols) ioctl(master, TIOCSWINSZ, &ws);
      else if (attached) copy_winsize(master);
      if (cfg.console_socket) {
        send_console(master);
        close(master);
        master = -1;
        if (g_no_monitor) return finish_without_monitor(init_fd);
      } else {
        out.fd = master;
        in_w = master;
        relay_stdin = attached && cfg.stdin_open;
      }
    }
  }

  if (attached && cfg.terminal && relay_stdin && isatty(0) && tcgetattr(0, &saved_tty) == 0) {
    struct termios raw = saved_tty;
    cfmakeraw(&raw);
    tty_saved = tcsetattr(0, TCSANOW, &raw) == 0;
  }

  /* The container's stdin: what our own stdin (attached) and attach clients send
   * waits in ibuf until the container takes it; never block on a container that
   * does not read its stdin (it may be blocked writing output to us). */
  static char ibuf[4096];
  size_t ilen = 0;
  int close_in = 0; /* our stdin or a stdin-once client's ended (no pty): close the container's once ibuf is empty */
  if (in_w >= 0) fcntl(in_w, F_SETFL, fcntl(in_w, F_GETFL) | O_NONBLOCK);

  int exited = 0, status = 0, err_no = 0;
  struct msgbuf mb = {.used = 0};
  char fields[6][2048];
  char err_step[64] = "", err_path[2048] = "";
  /* A container that ended while its runtime's create ran: that SIGCHLD was taken already. */
  if (cfg.runtime_create) {
    pid_t w;
    int st;
    while ((w = waitpid(-1, &st, WNOHANG)) > 0)
      if (w == child) exited = 1, status = st;
  }
  int stdin_fd = relay_stdin ? 0 : -1;
  /* caller-stdio: the caller holds the status pipe's only read end until it is done with us, so
   * POLLERR on our write end (fd 4) means it died: its stdio is then no longer ours to use. */
  watch_caller = cfg.caller_stdio;
  for (;;) {
    struct pollfd pf[7 + 17];
    int np = 0, i_sig, i_init = -1, i_out = -1, i_err = -1, i_in = -1, i_inw = -1, i_caller = -1;
    if (watch_caller) pf[i_caller = np++] = (struct pollfd){.fd = STATUS_FD, .events = 0};
    int busy = attach_busy(); /* a client has not taken the last output yet */
    pf[i_sig = np++] = (struct pollfd){.fd = sfd, .events = POLLIN};
    if (init_fd >= 0) pf[i_init = np++] = (struct pollfd){.fd = init_fd, .events = POLLIN};
    if (out.fd >= 0 && !busy) pf[i_out = np++] = (struct pollfd){.fd = out.fd, .events = POLLIN};
    if (err.fd >= 0 && !busy) pf[i_err = np++] = (struct pollfd){.fd = err.fd, .events = POLLIN};
    if (stdin_fd >= 0 && !exited && ilen < sizeof ibuf) pf[i_in = np++] = (struct pollfd){.fd = stdin_fd, .events = POLLIN};
    if (in_w >= 0 && ilen > 0) pf[i_inw = np++] = (struct pollfd){.fd = in_w, .events = POLLOUT};
    int i_att = np;
    int n_att = attach_fds(pf + np, in_w < 0 || !cfg.stdin_open || ilen < sizeof ibuf);
    np += n_att;
    if (exited && out.fd < 0 && err.fd < 0 && init_fd < 0) break;
    /* Once the container is gone, give its last writers a moment, then stop. */
    int timeout = exited ? 200 : -1, stall = attach_timeout_ms();
    if (stall >= 0 && (timeout < 0 || stall < timeout)) timeout = stall;
    int r = poll(pf, (nfds_t)np, timeout);
    if (r < 0 && errno != EINTR) break;
    if (r == 0 && exited && !busy) break;
    /* New clients first: one that connected before the container wrote (attach, then start) gets all of it. */
    attach_accept(pf + i_att, n_att);
    if (pf[i_sig].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (read(sfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) {
          pid_t w;
          int st;
          while ((w = waitpid(-1, &st, WNOHANG)) > 0)
            if (w == child) exited = 1, status = st;
        } else if (si.ssi_signo == SIGWINCH && master >= 0 && attached) {
          copy_winsize(master);
        } else if (!exited) {
          kill(child, (int)si.ssi_signo);
        }
      }
    }
    if (i_init >= 0 && pf[i_init].revents) {
      ssize_t n = read(init_fd, mb.data + mb.used, sizeof mb.data - mb.used);
      if (n > 0) {
        mb.used += (size_t)n;
        int nf;
        while ((nf = pop_msg(&mb, fields)) > 0) {
          if (!strcmp(fields[0], "ready") && !ready) {
            report_created();
            ready = 1;
          } else if (!strcmp(fields[0], "error") && nf >= 4) {
            snprintf(err_step, sizeof err_step, "%.63s", fields[1]);
            err_no = atoi(fields[2]);
            snprintf(err_path, sizeof err_path, "%s", fields[3]);
            report_error(err_step, err_no, err_path);
          }
        }
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        /* EOF: the init pipe closes on a successful exec (close-on-exec) or on death. */
        close(init_fd);
        init_fd = -1;
        if (ready && !err_step[0]) {
          const char *f[] = {"started"};
          ns_msg(STATUS_FD, 1, f);
          if (cfg.started_file) write_file_atomic(cfg.started_file, "", 0);
        }
      }
    }
    if (i_caller >= 0 && pf[i_caller].revents) {
      /* The caller is gone: no more output to its stdout/stderr (the log still gets all of it),
       * and the end of its stdin is the end of the container's, as when it ends by itself. */
      watch_caller = 0;
      restore_tty();
      end_relay(&out.relay_fd);
      end_relay(&err.relay_fd);
      if (stdin_fd >= 0 && !cfg.terminal) close_in = 1;
      stdin_fd = -1;
      null_stdio(); /* our copies of its descriptors go; 0-2 stay taken */
    }
    if (i_out >= 0 && pf[i_out].revents && !pump(&out) && master >= 0) {
      /* The pty is closed with the output: no more input or resizes go to it. */
      if (in_w == master) in_w = -1, ilen = 0;
      master = -1;
    }
    if (i_err >= 0 && pf[i_err].revents) pump(&err);
    if (i_in >= 0 && pf[i_in].revents) {
      ssize_t n = read(0, ibuf + ilen, sizeof ibuf - ilen);
      if (n > 0) {
        if (in_w >= 0) ilen += (size_t)n;
      } else if (n == 0 || errno != EINTR) {
        stdin_fd = -1;
        if (!cfg.terminal) close_in = 1; /* EOF reaches the container */
      }
    }
    /* Clients write to the container's stdin only when it was opened for them (the stdin step). */
    struct attach_input ain = {.buf = in_w >= 0 && cfg.stdin_open && !close_in ? ibuf : NULL, .len = &ilen, .cap = sizeof ibuf, .pty = master};
    attach_io(pf + i_att, n_att, &ain);
    /* Docker's StdinOnce, asked for by the client (ATTACH_STDIN_ONCE): the end of its input reaches the container. */
    if (attach_stdin_ended() && !cfg.terminal) close_in = 1;
    if (in_w >= 0 && ilen > 0 && (i_inw < 0 || pf[i_inw].revents)) {
      ssize_t w = write(in_w, ibuf, ilen);
      if (w > 0) memmove(ibuf, ibuf + w, ilen - (size_t)w), ilen -= (size_t)w;
      else if (w < 0 && errno != EAGAIN && errno != EINTR) ilen = 0; /* the container closed its stdin */
    }
    if (close_in && ilen == 0 && in_w >= 0) close(in_w), in_w = -1;
  }
  if (out.fd >= 0) log_entry(&out, out.line, out.used);
  if (err.fd >= 0) log_entry(&err, err.line, err.used);
  restore_tty();
  if (!exited) {
    int st;
    while (waitpid(child, &st, 0) < 0 && errno == EINTR) {}
    status = st;
  }
  write_exit_file(status, err_step[0] ? err_step : NULL, err_no, err_path);
  if (!ready && !err_step[0]) report_error("init", EPROTO, "container process ended during set-up");
  close(STATUS_FD);
  int code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  attach_finish(code); /* after the exit file: a client that reads the state next sees it stopped */
  if (cfg.exit_command && ready) {
    if (cfg.detach) run_exit_command();
    hand_off_exit();
  }
  return code;
}
