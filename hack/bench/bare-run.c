/* bare-run: the kernel work that `tsrun run --rm --network none IMAGE true` cannot avoid, done
 * by the shortest C program: a container directory with its upper and work dirs and a state
 * file (written and renamed), a cgroup in every hierarchy the host mounts (the container's
 * process joins them), the overlay rootfs, new pid/mount/uts/ipc/net/cgroup namespaces, a
 * chroot and an exec of `true`; then the unmount, the cgroups' and the directory's removal.
 * No image lookup, no spec, no seccomp, no /dev or /proc, no pivot_root, no parsing: a floor,
 * not a runtime. hack/bench/run.sh times it beside the runtimes.
 *
 * With --node it first starts `node -e 0` and waits for it, as a Node CLI starts before it can do
 * anything, while a child writes its own cgroup.procs: the head start on the kernel's cgroup
 * migration lock that bin/tsrun takes (src/native/cli_launch.c). That is the floor of any Node CLI
 * that runs this container.
 *
 *   bare-run [--node] LOWERDIR STATEDIR NAME     (as root) */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_HIERARCHIES 16

static void die(const char *what, const char *path) {
  fprintf(stderr, "bare-run: %s %s: %s\n", what, path, strerror(errno));
  exit(1);
}

static void path_of(char *buf, const char *a, const char *b) {
  if (snprintf(buf, PATH_MAX, "%s/%s", a, b) >= PATH_MAX) {
    errno = ENAMETOOLONG;
    die("path", a);
  }
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || write(fd, text, strlen(text)) < 0 || close(fd) < 0) die("write", path);
}

/* A v1 cpuset cgroup takes no process before it has cpus and mems: its parent's, as runtimes do. */
static void copy_cpuset(const char *parent, const char *child) {
  static const char *files[] = {"cpuset.cpus", "cpuset.mems"};
  for (int i = 0; i < 2; i++) {
    char from[PATH_MAX], to[PATH_MAX], value[4096];
    path_of(from, parent, files[i]);
    int fd = open(from, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return; /* not a cpuset hierarchy */
    ssize_t n = read(fd, value, sizeof value - 1);
    close(fd);
    if (n < 0) die("read", from);
    value[n] = 0;
    path_of(to, child, files[i]);
    write_file(to, value);
  }
}

/* Every cgroup hierarchy mounted under /sys/fs/cgroup (v1 controllers and the unified one). */
static int hierarchies(char dirs[][PATH_MAX]) {
  int n = 0;
  DIR *d = opendir("/sys/fs/cgroup");
  if (!d) die("open", "/sys/fs/cgroup");
  struct dirent *e;
  while ((e = readdir(d)) && n < MAX_HIERARCHIES) {
    if (e->d_name[0] == '.' || e->d_type != DT_DIR) continue;
    path_of(dirs[n], "/sys/fs/cgroup", e->d_name);
    char probe[PATH_MAX];
    path_of(probe, dirs[n], "cgroup.procs");
    if (access(probe, F_OK) == 0) n++;
  }
  closedir(d);
  if (n == 0) { /* pure cgroup v2: the root itself */
    strcpy(dirs[0], "/sys/fs/cgroup");
    n = 1;
  }
  return n;
}

static void run_and_wait(char *const argv[]) {
  pid_t pid = fork();
  if (pid < 0) die("fork", argv[0]);
  if (pid == 0) {
    execvp(argv[0], argv);
    _exit(127);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  if (!WIFEXITED(st) || WEXITSTATUS(st)) {
    errno = ECHILD;
    die("run", argv[0]);
  }
}

/* A Node start with the migration lock warmed alongside, as bin/tsrun does. */
static void node_start(void) {
  pid_t warmer = fork();
  if (warmer < 0) die("fork", "");
  if (warmer == 0) {
    int fd = open("/proc/self/cgroup", O_RDONLY); /* any hierarchy: the lock is global */
    char line[PATH_MAX + 64], procs[PATH_MAX + 64];
    ssize_t n = fd < 0 ? -1 : read(fd, line, sizeof line - 1);
    if (n <= 0) _exit(1);
    line[n] = 0;
    char *nl = strchr(line, '\n'), *colon = strchr(line, ':');
    if (nl) *nl = 0;
    char *ctrl = colon ? colon + 1 : NULL, *path = ctrl ? strchr(ctrl, ':') : NULL;
    if (!path) _exit(1);
    *path++ = 0;
    const char *mnt = *ctrl ? (strncmp(ctrl, "name=", 5) ? ctrl : ctrl + 5) : "unified";
    snprintf(procs, sizeof procs, "/sys/fs/cgroup/%s%s/cgroup.procs", mnt, path);
    fd = open(procs, O_WRONLY);
    _exit(fd < 0 || write(fd, "0", 1) < 0);
  }
  unsetenv("NODE_EXTRA_CA_CERTS"); /* bin/tsrun moves it aside too */
  char *const node[] = {"node", "-e", "0", NULL};
  run_and_wait(node);
  waitpid(warmer, NULL, 0);
}

int main(int argc, char **argv) {
  if (argc == 5 && !strcmp(argv[1], "--node")) {
    node_start();
    argv++;
    argc--;
  }
  if (argc != 4) {
    fprintf(stderr, "usage: bare-run [--node] LOWERDIR STATEDIR NAME\n");
    return 2;
  }
  const char *lower = argv[1], *name = argv[3];
  char dir[PATH_MAX], upper[PATH_MAX], work[PATH_MAX], rootfs[PATH_MAX], tmp[PATH_MAX], state[PATH_MAX];
  path_of(dir, argv[2], name);
  path_of(upper, dir, "upper");
  path_of(work, dir, "work");
  path_of(rootfs, dir, "rootfs");
  path_of(tmp, dir, ".state.tmp");
  path_of(state, dir, "state.json");
  if (mkdir(dir, 0700) || mkdir(upper, 0755) || mkdir(work, 0700) || mkdir(rootfs, 0755)) die("mkdir", dir);
  write_file(tmp, "{\"state\":\"created\"}");
  if (rename(tmp, state)) die("rename", state);

  static char cg[MAX_HIERARCHIES][PATH_MAX];
  int ncg = hierarchies(cg);
  for (int i = 0; i < ncg; i++) {
    char sub[PATH_MAX];
    path_of(sub, cg[i], name);
    if (mkdir(sub, 0755)) die("mkdir", sub);
    copy_cpuset(cg[i], sub);
    strcpy(cg[i], sub);
  }

  char opts[3 * PATH_MAX + 64];
  snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
  if (mount("overlay", rootfs, "overlay", 0, opts)) die("mount overlay on", rootfs);

  int sync[2];
  if (pipe2(sync, O_CLOEXEC)) die("pipe", "");
  pid_t pid = fork();
  if (pid < 0) die("fork", "");
  if (pid == 0) {
    char go;
    close(sync[1]);
    if (read(sync[0], &go, 1) != 1) _exit(1); /* in the cgroups first */
    if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWCGROUP)) _exit(1);
    pid_t init = fork();
    if (init < 0) _exit(1);
    if (init == 0) {
      if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) || chroot(rootfs) || chdir("/")) _exit(1);
      execl("/bin/true", "true", (char *)NULL);
      _exit(127);
    }
    int st;
    while (waitpid(init, &st, 0) < 0 && errno == EINTR) {}
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
  }
  char pidtext[32];
  snprintf(pidtext, sizeof pidtext, "%d", pid);
  for (int i = 0; i < ncg; i++) {
    char procs[PATH_MAX];
    path_of(procs, cg[i], "cgroup.procs");
    write_file(procs, pidtext);
  }
  if (write(sync[1], "g", 1) != 1) die("sync", "");
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}

  if (umount2(rootfs, 0)) die("umount", rootfs);
  for (int i = 0; i < ncg; i++)
    if (rmdir(cg[i])) die("rmdir", cg[i]);
  if (unlink(state) || rmdir(rootfs) || rmdir(upper)) die("remove", dir);
  char workdir[PATH_MAX];
  path_of(workdir, work, "work"); /* overlay leaves work/work behind */
  rmdir(workdir);
  if (rmdir(work) || rmdir(dir)) die("remove", dir);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
