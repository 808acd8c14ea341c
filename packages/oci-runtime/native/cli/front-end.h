/*
 * ocikit-runtime native front end: shared declarations.
 *
 * The front end answers the hottest runc subcommands (start, state, kill, delete) itself when it can be
 * exactly as the TypeScript CLI would be, and otherwise execs `node dist/cli.cjs` with the arguments
 * unchanged. Every helper here returns FALLBACK when it meets anything it does not fully understand,
 * and the caller then hands the whole invocation to Node.
 */
#ifndef OCIKIT_FRONT_END_H
#define OCIKIT_FRONT_END_H

#include <stddef.h>

/* Returned by helpers (and commands) when Node has to do the job. */
#define FALLBACK (-100)

/* ---- global settings (runc's global flags) ---- */
struct settings {
  const char *root;        /* --root, default /run/ocikit-runtime */
  const char *log_file;    /* --log, or NULL */
  int log_json;            /* --log-format json */
  const char *cgroup_root; /* --cgroup-root, default /sys/fs/cgroup */
};

/* ---- report.c: errors exactly like src/cli/output.ts reportError ---- */
/* Reports a fatal error (`code`/`path` are only written in JSON records; either may be NULL). */
void report_error(const struct settings *s, const char *message, const char *code, const char *path);
/* Appends `text` (n bytes) JSON-escaped as JSON.stringify does, quotes included, to buf. */
struct buffer {
  char *data;
  size_t len, cap;
};
void buf_add(struct buffer *b, const char *text, size_t n);
void buf_str(struct buffer *b, const char *text);
void buf_json_string(struct buffer *b, const char *text, size_t n);
/* Writes all of `n` bytes to `fd` (retrying EINTR/EAGAIN); -1 on failure. */
int write_all(int fd, const char *data, size_t n);

/* ---- record.c: <root>/<id>/state.json ---- */
/* A raw JSON token inside the record text (strings keep their quotes). */
struct span {
  const char *p;
  size_t n;
};
struct record {
  char *text; /* the whole file */
  size_t len;
  struct span oci_version, id, pid, status, bundle, rootfs, created, owner, annotations;
  struct span pid_start_time, cgroup_path, hooks, seccomp, shared_pid_ns, monitor;
  long pid_value;
  int has_poststart, has_poststop;
};
/* Reads and scans a record: 0, -1 with errno ENOENT when there is none, or FALLBACK. */
int record_read(const char *path, struct record *r);
/* True when the span is the JSON string whose content is `text` (no escapes). */
int span_is(struct span s, const char *text);
/* Appends `,\n  "annotations": {…}` as JSON.stringify(state, null, '  ') does, unless empty. */
int annotations_pretty(struct span annotations, struct buffer *b);
/* Copies a JSON string's content without escapes into out; FALLBACK when it has escapes or is too long. */
int span_string(struct span s, char *out, size_t size);

/* ---- cgroup-v1.c: the container's cgroup, as src/cgroups/v1.ts resolves it ---- */
#define MAX_HIERARCHIES 32
struct hierarchy {
  char controllers[256]; /* comma-separated, mountinfo order */
  char directory[4096];
};
/* The cgroup directories of cgroupsPath `path` under `cgroup_root` (v1 only): count, or FALLBACK. */
int cgroup_v1_hierarchies(const char *cgroup_root, const char *path, struct hierarchy *out, int max);
/* 0 thawed, 1 frozen or freezing (paused), as status() sees it. */
int cgroup_v1_paused(const struct hierarchy *h, int count);
/* rmdir of each directory and its child cgroups; 0, or FALLBACK on anything but ENOENT/EBUSY-then-gone. */
int cgroup_v1_destroy(const struct hierarchy *h, int count);

#endif
