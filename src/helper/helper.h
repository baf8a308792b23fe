/* tsrun-helper: executes a launch plan computed by TypeScript and monitors the
 * container. No policy lives here: every decision (which mounts, which flags,
 * which capabilities) is in the plan; this program only parses it, runs it in
 * order, dies on the first error and reports the failing step. See PLAN.md. */
#ifndef TSRUN_HELPER_H
#define TSRUN_HELPER_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PLAN_MAGIC "tsrun-plan-1"
#define PLAN_MAX_BYTES (16u << 20)
#define PLAN_MAX_STEPS 4096
#define STEP_MAX_ARGS 4096

/* Fixed descriptors the caller hands us. */
#define PLAN_FD 3
#define STATUS_FD 4

/* Phases: steps run in the process that owns their phase, in plan order. */
enum phase {
  PHASE_CONFIG = 0, /* monitor settings, read before anything runs */
  PHASE_PRECLONE = 1, /* setup process: join namespaces, clone the container */
  PHASE_PARENT = 2, /* monitor, container pid known: id maps, cgroups */
  PHASE_INIT = 3, /* container process: mounts, pivot, creds, exec */
};

struct step {
  const struct op *op;
  int argc;
  char **argv; /* NUL-terminated copies; may contain no NUL inside */
  size_t *lens;
};

struct op {
  const char *name;
  enum phase phase;
  int min_args, max_args; /* max -1: variadic */
};

struct plan {
  struct step *steps;
  int nsteps;
};

/* plan.c */
int plan_parse(const char *buf, size_t len, struct plan *out, char *err, size_t errlen);
const struct op *op_lookup(const char *name);
int parse_u64(const char *s, int base, uint64_t *out);
int parse_i64(const char *s, int64_t *out);

/* util.c */
extern int g_report_fd; /* where report_error writes (status fd or the init pipe) */
void ns_put(int fd, const char *s, size_t len);             /* one netstring */
void ns_msg(int fd, int n, const char *const *fields);       /* fields as netstrings */
void report_error(const char *step, int err, const char *path);
void die_step(const char *step, int err, const char *path) __attribute__((noreturn));
int write_all(int fd, const void *buf, size_t len);
int write_file_atomic(const char *path, const char *data, size_t len);
size_t json_escape(char *dst, size_t cap, const unsigned char *src, size_t len);
void rfc3339_now(char *buf, size_t cap);
/* A listening unix stream socket at path (mode 0600, non-blocking, close-on-exec; one left there
 * is replaced); a path too long for sun_path is bound through its directory's fd. -1 and errno. */
int unix_listen(const char *path, int backlog);
const char *signal_name(int sig, char *buf, size_t cap);

/* init.c: run PHASE_INIT steps in the container process; never returns. */
void init_run(const struct plan *plan, int sync_fd, int stdio[3]) __attribute__((noreturn));
extern int g_exec_fifo_fd, g_console_fd;
/* Extra fds the caller handed us at PRESERVED_FD_BASE.. that the command gets as 3.. */
extern int g_preserve_fds;
/* No monitor stays: the container is reparented to the caller's subreaper. */
extern int g_no_monitor;
/* The container keeps a parent-death SIGKILL across execve: it dies with a killed monitor. */
extern int g_die_with_monitor;
#define PRESERVED_FD_BASE 5

/* monitor.c */
int monitor_main(const struct plan *plan);

/* attach.c: the attach socket (frames and types in PLAN.md). */
#define ATTACH_STDIN 0  /* client -> monitor: bytes for the container's stdin */
#define ATTACH_STDOUT 1 /* monitor -> client */
#define ATTACH_STDERR 2 /* monitor -> client */
#define ATTACH_EXIT 3   /* monitor -> client: the exit code in decimal, then the monitor closes */
#define ATTACH_RESIZE 4 /* client -> monitor: rows and cols, big-endian u16 each */
#define ATTACH_STDIN_ONCE 5 /* client -> monitor: the end of this client's input ends the container's stdin */
#define ATTACH_FRAME_MAX 16384
/* Where client input goes: stdin bytes appended to buf (NULL: dropped), resizes to pty (-1: none). */
struct attach_input {
  char *buf;
  size_t *len;
  size_t cap;
  int pty;
};
int attach_listen(const char *path);
int attach_fds(struct pollfd *pf, int want_input); /* the listener and the clients; room: 1 + 16 */
void attach_accept(const struct pollfd *pf, int n); /* before output is read: a client connected before it was written gets it */
void attach_io(const struct pollfd *pf, int n, struct attach_input *in);
int attach_stdin_ended(void); /* a client that sent ATTACH_STDIN_ONCE reached the end of its input or left */
void attach_broadcast(int type, const char *data, size_t len);
int attach_busy(void);       /* a client has not taken the last frame: read no more output */
int attach_timeout_ms(void); /* -1, or when attach_io must run to drop a stalled client */
void attach_finish(int exit_code);

#endif
