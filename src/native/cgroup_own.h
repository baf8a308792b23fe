/* The cgroup.procs file of this process's own cgroup in the unified hierarchy: what the cgroup
 * lock warmers write to (cgroup_warm.c in the addon, cli_launch.c before Node starts). */
#ifndef TSRUN_CGROUP_OWN_H
#define TSRUN_CGROUP_OWN_H
#include <stddef.h>

/* Shared by every tsrun process on the host: only its holder writes, so 50 containers starting
 * at once do not take the kernel lock 25,000 times a second. */
#define WRITER_LOCK "/run/tsrun-cgroup-warm.lock"
/* How often a warmer writes again: well inside an RCU grace period, which keeps the lock warm. */
#define REWRITE_EVERY_NS (5 * 1000 * 1000L)

/* A whole (proc) file, NUL-terminated, malloc'd; NULL on failure. */
char *read_text(const char *path);
/* From the texts of /proc/self/cgroup and /proc/self/mountinfo; 0 when there is none. */
int own_unified_procs_file(const char *cgroup_text, const char *mountinfo_text, char *out, size_t cap);
/* Whether fd is a file of a cgroup filesystem (v2 or v1): checked before the first write. */
int is_cgroup_file(int fd);
/* The same from this process's own /proc files. */
int own_unified_procs_file_now(char *out, size_t cap);

#endif
