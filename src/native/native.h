/* Shared by the addon's source files: argument decoding and errors as Node's fs throws them. */
#ifndef TSRUN_NATIVE_H
#define TSRUN_NATIVE_H
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

#define PATH_BUF 4096

napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path);
int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv);
int get_string(napi_env env, napi_value v, char *buf, size_t len);
int get_int(napi_env env, napi_value v, int64_t *out);

/* node_writer.c */
void register_node_writer(napi_env env, napi_value exports);
/* remove_tree.c */
void register_remove_tree(napi_env env, napi_value exports);
/* spawn.c */
void register_spawn(napi_env env, napi_value exports);
int start_quiet_thread(void *(*fn)(void *), void *arg);
/* cgroup_warm.c */
void register_cgroup_warm(napi_env env, napi_value exports);
/* map_file.c */
void register_map_file(napi_env env, napi_value exports);

#endif
