/*
 * ocikit-runtime: the native front end of the runc-compatible CLI.
 *
 * `start`, `state`, `kill` and `delete` are answered here when the case is plain (see README: no hooks
 * left to run, no monitor, cgroup v1 with an absolute cgroupsPath, ...), exactly as src/cli would answer
 * them: same output bytes, same state.json bytes, same errors. Everything else, and every case with
 * anything unusual, execs `node <package>/dist/cli.cjs` with the arguments unchanged, before any output.
 *
 * OCIKIT_RUNTIME_NODE overrides the node binary recorded at build time (OCIKIT_NODE_PATH).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "front-end.h"

#ifndef OCIKIT_NODE_PATH
#define OCIKIT_NODE_PATH "node"
#endif

/* ---------- the Node fallback ---------- */

static void run_node(int argc, char **argv) {
  char exe[PATH_MAX], cli[PATH_MAX + 32];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) {
    fprintf(stderr, "ocikit-runtime: readlink /proc/self/exe: %s\n", strerror(errno));
    exit(1);
  }
  exe[n] = '\0';
  /* <package>/build/Release/ocikit-runtime -> <package>/dist/cli.cjs */
  for (int up = 0; up < 3; up++) {
    char *slash = strrchr(exe, '/');
    if (slash == NULL) break;
    *slash = '\0';
  }
  snprintf(cli, sizeof cli, "%s/dist/cli.cjs", exe);
  const char *override = getenv("OCIKIT_RUNTIME_NODE");
  const char *node = override != NULL && override[0] != '\0' ? override : OCIKIT_NODE_PATH;
  char **args = calloc((size_t)argc + 2, sizeof *args);
  if (args == NULL) abort();
  args[0] = (char *)node;
  args[1] = cli;
  for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
  args[argc + 1] = NULL;
  /* The CLI makes no TLS connection, and Node parses this CA bundle at every start (~40 ms where a
     host sets it globally); containers, hooks and the monitor get their environment from the spec. */
  unsetenv("NODE_EXTRA_CA_CERTS");
  if (strchr(node, '/') != NULL) {
    execv(node, args);
    /* the node this was built with is gone: try the one on PATH */
    if (override == NULL && errno == ENOENT) execvp("node", args);
  } else {
    execvp(node, args);
  }
  fprintf(stderr, "ocikit-runtime: cannot run %s %s: %s\n", node, cli, strerror(errno));
  exit(1);
}

/* ---------- small helpers ---------- */

/* assertContainerId: /^[\w+\-.]+$/ and not . or .. */
static int valid_id(const char *id) {
  if (id[0] == '\0' || strcmp(id, ".") == 0 || strcmp(id, "..") == 0) return 0;
  for (const char *p = id; *p != '\0'; p++) {
    char c = *p;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '+' || c == '-' || c == '.'))
      return 0;
  }
  return 1;
}

/* isProcessAlive(pid, startTime) of src/state/process-status.ts. */
static int process_alive(long pid, struct span start_time) {
  char path[64], text[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t got = read(fd, text, sizeof text - 1);
  close(fd);
  if (got <= 0) return 0;
  text[got] = '\0';
  char *paren = strrchr(text, ')');
  if (paren == NULL || paren[1] == '\0') return 0;
  char *fields[20] = {0};
  char *p = paren + 2;
  for (int i = 0; i < 20 && p != NULL; i++) {
    fields[i] = p;
    p = strchr(p, ' ');
    if (p != NULL) *p++ = '\0';
  }
  const char *state = fields[0] != NULL ? fields[0] : "";
  if (strcmp(state, "Z") == 0 || strcmp(state, "X") == 0 || strcmp(state, "x") == 0) return 0;
  if (start_time.n == 2) return 1; /* '' */
  const char *ticks = fields[19] != NULL ? fields[19] : "";
  return strlen(ticks) == start_time.n - 2 && memcmp(ticks, start_time.p + 1, start_time.n - 2) == 0;
}

static const char *const status_names[] = {"creating", "created", "running", "paused", "stopped"};
enum { ST_CREATING, ST_CREATED, ST_RUNNING, ST_PAUSED, ST_STOPPED };

/*
 * ContainerRuntime.status(): pid liveness with start time, the exec fifo, the freezer. Without
 * `freezer`, a running or paused container reads as ST_RUNNING.
 */
static int derive_status(const struct settings *s, const struct record *r, const char *fifo, int freezer) {
  if (r->monitor.p != NULL) return FALLBACK;
  if (r->pid_value <= 0) return span_is(r->status, "creating") ? ST_CREATING : ST_STOPPED;
  if (!process_alive(r->pid_value, r->pid_start_time)) return ST_STOPPED;
  struct stat st;
  if (stat(fifo, &st) == 0) return ST_CREATED;
  if (freezer && r->cgroup_path.n > 2) {
    char cgroup_path[4096];
    struct hierarchy h[MAX_HIERARCHIES];
    if (span_string(r->cgroup_path, cgroup_path, sizeof cgroup_path) != 0) return FALLBACK;
    int count = cgroup_v1_hierarchies(s->cgroup_root, cgroup_path, h, MAX_HIERARCHIES);
    if (count < 0) return FALLBACK;
    if (cgroup_v1_paused(h, count)) return ST_PAUSED;
  }
  return ST_RUNNING;
}

struct target {
  char dir[PATH_MAX], state[PATH_MAX + 32], fifo[PATH_MAX + 32];
};

static int locate(const struct settings *s, const char *id, struct target *t) {
  if (!valid_id(id)) return FALLBACK;
  if ((size_t)snprintf(t->dir, sizeof t->dir, "%s/%s", s->root, id) >= sizeof t->dir - 16)
    return FALLBACK;
  snprintf(t->state, sizeof t->state, "%s/state.json", t->dir);
  snprintf(t->fifo, sizeof t->fifo, "%s/exec.fifo", t->dir);
  return 0;
}

/* Reads the record, reporting CONTAINER_NOT_FOUND: 0, 1 (reported), or FALLBACK. */
static int load(const struct settings *s, const char *id, const struct target *t, struct record *r) {
  int rc = record_read(t->state, r);
  if (rc == -1) {
    char message[512];
    snprintf(message, sizeof message, "container %s does not exist", id);
    report_error(s, message, "CONTAINER_NOT_FOUND", id);
    return 1;
  }
  return rc;
}

/* locate, load and derive_status together: 0 with *status set, 1 (reported), or FALLBACK. */
static int examine(const struct settings *s, const char *id, struct target *t, struct record *r, int freezer,
                   int *status) {
  if (locate(s, id, t) != 0) return FALLBACK;
  int rc = load(s, id, t, r);
  if (rc != 0) return rc;
  *status = derive_status(s, r, t->fifo, freezer);
  return *status < 0 ? FALLBACK : 0;
}

/* ---------- start ---------- */

/* Reads the exec fifo's byte like runtime.ts start(): 1 when the init sent it, 0 when it exited first. */
static int release_init(const struct record *r, const char *fifo, int *byte) {
  int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  char c;
  *byte = 0;
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    int ready = poll(&p, 1, 100);
    if (ready < 0 && errno == EINTR) continue;
    if (ready > 0) {
      ssize_t got = read(fd, &c, 1);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      *byte = got == 1;
      break;
    }
    if (ready == 0 && !process_alive(r->pid_value, r->pid_start_time)) {
      /* the init is gone; a byte it wrote before going is still in the pipe */
      *byte = read(fd, &c, 1) == 1;
      break;
    }
  }
  close(fd);
  return 0;
}

/* store.write(): the same record bytes with "status":"running", via a temp file and rename. */
static int write_running(const struct record *r, const struct target *t) {
  char tmp[PATH_MAX + 64];
  snprintf(tmp, sizeof tmp, "%s/.state.json.%ld.tmp", t->dir, (long)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  size_t before = (size_t)(r->status.p - r->text);
  size_t after = before + r->status.n;
  int rc = write_all(fd, r->text, before) | write_all(fd, "\"running\"", 9) |
           write_all(fd, r->text + after, r->len - after);
  if (close(fd) != 0) rc = -1;
  if (rc == 0 && rename(tmp, t->state) != 0) rc = -1;
  if (rc != 0) unlink(tmp);
  return rc;
}

static int cmd_start(const struct settings *s, const char *id) {
  struct target t;
  struct record r;
  int status;
  int rc = examine(s, id, &t, &r, 1, &status);
  if (rc != 0) return rc;
  if (r.has_poststart) return FALLBACK;
  if (status != ST_CREATED) {
    char message[256];
    if (status == ST_STOPPED)
      snprintf(message, sizeof message, "cannot start a container that has stopped");
    else
      snprintf(message, sizeof message, "cannot start an already %s container", status_names[status]);
    report_error(s, message, "INVALID_STATE", id);
    return 1;
  }
  int byte = 0;
  if (release_init(&r, t.fifo, &byte) != 0) return FALLBACK; /* nothing happened yet */
  if (unlink(t.fifo) != 0 && errno != ENOENT) {
    char message[PATH_MAX + 64];
    snprintf(message, sizeof message, "%s: unlink '%s'", strerror(errno), t.fifo);
    report_error(s, message, NULL, NULL);
    return 1;
  }
  if (!byte) {
    char message[512];
    snprintf(message, sizeof message, "start %s: the container init exited before it was started", id);
    report_error(s, message, "CONTAINER_NOT_RUNNING", id);
    return 1;
  }
  if (write_running(&r, &t) != 0) {
    char message[PATH_MAX + 64];
    snprintf(message, sizeof message, "%s: write '%s'", strerror(errno), t.state);
    report_error(s, message, NULL, NULL);
    return 1;
  }
  return 0;
}

/* ---------- state ---------- */

static int cmd_state(const struct settings *s, const char *id) {
  struct target t;
  struct record r;
  int status;
  int rc = examine(s, id, &t, &r, 1, &status);
  if (rc != 0) return rc;
  struct buffer b = {0};
  buf_str(&b, "{\n  \"ociVersion\": ");
  buf_add(&b, r.oci_version.p, r.oci_version.n);
  buf_str(&b, ",\n  \"id\": ");
  buf_add(&b, r.id.p, r.id.n);
  buf_str(&b, ",\n  \"pid\": ");
  if (status == ST_STOPPED)
    buf_str(&b, "0");
  else
    buf_add(&b, r.pid.p, r.pid.n);
  buf_str(&b, ",\n  \"status\": \"");
  buf_str(&b, status_names[status]);
  buf_str(&b, "\",\n  \"bundle\": ");
  buf_add(&b, r.bundle.p, r.bundle.n);
  buf_str(&b, ",\n  \"rootfs\": ");
  buf_add(&b, r.rootfs.p, r.rootfs.n);
  buf_str(&b, ",\n  \"created\": ");
  buf_add(&b, r.created.p, r.created.n);
  buf_str(&b, ",\n  \"owner\": ");
  buf_add(&b, r.owner.p, r.owner.n);
  if (r.annotations.p != NULL && annotations_pretty(r.annotations, &b) < 0) return FALLBACK;
  buf_str(&b, "\n}\n");
  (void)write_all(1, b.data, b.len);
  return 0;
}

/* ---------- kill ---------- */

/* parseSignal for numbers and names (with or without SIG, any case); FALLBACK for the rest. */
static int parse_signal(const char *text) {
  static const struct {
    const char *name;
    int number;
  } table[] = {{"HUP", 1},   {"INT", 2},     {"QUIT", 3},   {"ILL", 4},    {"TRAP", 5},
               {"ABRT", 6},  {"IOT", 6},     {"BUS", 7},    {"FPE", 8},    {"KILL", 9},
               {"USR1", 10}, {"SEGV", 11},   {"USR2", 12},  {"PIPE", 13},  {"ALRM", 14},
               {"TERM", 15}, {"STKFLT", 16}, {"CHLD", 17},  {"CLD", 17},   {"CONT", 18},
               {"STOP", 19}, {"TSTP", 20},   {"TTIN", 21},  {"TTOU", 22},  {"URG", 23},
               {"XCPU", 24}, {"XFSZ", 25},   {"VTALRM", 26}, {"PROF", 27}, {"WINCH", 28},
               {"IO", 29},   {"POLL", 29},   {"PWR", 30},   {"SYS", 31}};
  if (text[0] == '\0') return FALLBACK;
  if (strspn(text, "0123456789") == strlen(text)) {
    if (strlen(text) > 6) return FALLBACK;
    int number = atoi(text);
    return number >= 1 && number <= 64 ? number : FALLBACK;
  }
  const char *name = strncasecmp(text, "SIG", 3) == 0 ? text + 3 : text;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (strcasecmp(name, table[i].name) == 0) return table[i].number;
  return FALLBACK;
}

static int cmd_kill(const struct settings *s, const char *id, const char *signal_text) {
  int signal_number = parse_signal(signal_text);
  if (signal_number < 0) return FALLBACK;
  struct target t;
  struct record r;
  int status;
  int rc = examine(s, id, &t, &r, 0, &status);
  if (rc != 0) return rc;
  if (status == ST_STOPPED || status == ST_CREATING) {
    report_error(s, "container not running", "CONTAINER_NOT_RUNNING", id);
    return 1;
  }
  if (kill((pid_t)r.pid_value, signal_number) != 0) {
    const char *name = errno == ESRCH ? "ESRCH" : errno == EPERM ? "EPERM" : "EINVAL";
    char message[512];
    snprintf(message, sizeof message, "kill %s: kill %s", id, name);
    report_error(s, message, "SYSCALL_FAILED", id);
    return 1;
  }
  return 0;
}

/* ---------- delete ---------- */

static const char *keep_path;

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st;
  if (ftw->level == 0) return 0; /* the directory itself goes last */
  if (keep_path != NULL && strcmp(path, keep_path) == 0) return 0;
  if (type == FTW_DP) return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
  return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

static int cmd_delete(const struct settings *s, const char *id, int force) {
  struct target t;
  struct record r;
  if (locate(s, id, &t) != 0) return FALLBACK;
  int rc = record_read(t.state, &r);
  if (rc == -1) {
    if (force) return 0; /* runc: deleting a missing container with --force is fine */
    return load(s, id, &t, &r);
  }
  if (rc != 0) return FALLBACK;
  int status = derive_status(s, &r, t.fifo, 1);
  if (status < 0) return FALLBACK;
  if ((status == ST_RUNNING || status == ST_PAUSED) && !force) {
    char message[512];
    snprintf(message, sizeof message, "cannot delete container %s that is not stopped: %s", id,
             status_names[status]);
    report_error(s, message, "CONTAINER_NOT_STOPPED", id);
    return 1;
  }
  /* Only the plain case: nothing to kill, no poststop hook to run. */
  if (status != ST_STOPPED || r.has_poststop) return FALLBACK;
  if (r.cgroup_path.n > 2) {
    char cgroup_path[4096];
    struct hierarchy h[MAX_HIERARCHIES];
    if (span_string(r.cgroup_path, cgroup_path, sizeof cgroup_path) != 0) return FALLBACK;
    int count = cgroup_v1_hierarchies(s->cgroup_root, cgroup_path, h, MAX_HIERARCHIES);
    if (count < 0) return FALLBACK;
    /* Idempotent so far: on trouble Node does the whole delete again and reports. */
    if (cgroup_v1_destroy(h, count) != 0) return FALLBACK;
  }
  /* store.remove(): state.json goes last, so a failure before leaves a record Node can delete. */
  keep_path = t.state;
  if (nftw(t.dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) return FALLBACK;
  if (unlink(t.state) != 0 && errno != ENOENT) return FALLBACK;
  if (rmdir(t.dir) != 0 && errno != ENOENT) {
    char message[PATH_MAX + 64];
    snprintf(message, sizeof message, "%s: rmdir '%s'", strerror(errno), t.dir);
    report_error(s, message, NULL, NULL);
    return 1;
  }
  return 0;
}

/* ---------- argument parsing ---------- */

/* A boolean flag's inline value (urfave/cli: true|false|1|0|t|f, any case): 1, 0, or FALLBACK. */
static int bool_value(const char *inline_value) {
  if (inline_value == NULL) return 1;
  static const char *const yes[] = {"true", "1", "t"}, *const no[] = {"false", "0", "f"};
  for (int i = 0; i < 3; i++) {
    if (strcasecmp(inline_value, yes[i]) == 0) return 1;
    if (strcasecmp(inline_value, no[i]) == 0) return 0;
  }
  return FALLBACK;
}

/* Splits `-name`, `--name`, `--name=value`; 0, or FALLBACK for `--` and non-flags. */
static int split_flag(const char *arg, char *name, size_t size, const char **inline_value) {
  if (arg[0] != '-' || strcmp(arg, "-") == 0 || strcmp(arg, "--") == 0) return FALLBACK;
  const char *body = arg[1] == '-' ? arg + 2 : arg + 1;
  const char *eq = strchr(body, '=');
  size_t n = eq != NULL ? (size_t)(eq - body) : strlen(body);
  if (n >= size) return FALLBACK;
  memcpy(name, body, n);
  name[n] = '\0';
  *inline_value = eq != NULL ? eq + 1 : NULL;
  return 0;
}

static int dispatch(int argc, char **argv) {
  struct settings s = {"/run/ocikit-runtime", NULL, 0, NULL};
  const char *log_format = "text";
  const char *cgroup_root = NULL;
  int i = 1;
  for (; i < argc; i++) {
    const char *arg = argv[i];
    if (arg[0] != '-' || strcmp(arg, "-") == 0) break;
    char name[32];
    const char *value;
    if (split_flag(arg, name, sizeof name, &value) != 0) return FALLBACK;
    if (strcmp(name, "debug") == 0 || strcmp(name, "systemd-cgroup") == 0) {
      int on = bool_value(value);
      if (on < 0) return FALLBACK;
      if (on && strcmp(name, "systemd-cgroup") == 0) return FALLBACK; /* Node reports it */
      continue;
    }
    if (strcmp(name, "root") != 0 && strcmp(name, "log") != 0 && strcmp(name, "log-format") != 0 &&
        strcmp(name, "cgroup-root") != 0 && strcmp(name, "criu") != 0 && strcmp(name, "rootless") != 0)
      return FALLBACK; /* --help, --version, unknown flags */
    if (value == NULL) {
      if (i + 1 >= argc) return FALLBACK;
      value = argv[++i];
    }
    if (strcmp(name, "root") == 0) s.root = value;
    else if (strcmp(name, "log") == 0) s.log_file = value;
    else if (strcmp(name, "log-format") == 0) log_format = value;
    else if (strcmp(name, "cgroup-root") == 0) cgroup_root = value;
  }
  if (strcmp(log_format, "json") == 0) s.log_json = 1;
  else if (strcmp(log_format, "text") != 0) return FALLBACK;
  s.cgroup_root = cgroup_root != NULL ? cgroup_root : "/sys/fs/cgroup";
  if (s.root[0] == '\0' || strstr(s.root, "..") != NULL) return FALLBACK;
  if (i >= argc) return FALLBACK;
  const char *command = argv[i++];
  int is_start = strcmp(command, "start") == 0, is_state = strcmp(command, "state") == 0;
  int is_kill = strcmp(command, "kill") == 0, is_delete = strcmp(command, "delete") == 0;
  if (!is_start && !is_state && !is_kill && !is_delete) return FALLBACK;
  int force = 0;
  for (; i < argc && argv[i][0] == '-' && strcmp(argv[i], "-") != 0; i++) {
    char name[32];
    const char *value;
    if (!is_delete || split_flag(argv[i], name, sizeof name, &value) != 0) return FALLBACK;
    if (strcmp(name, "force") != 0 && strcmp(name, "f") != 0) return FALLBACK;
    force = bool_value(value);
    if (force < 0) return FALLBACK;
  }
  int positionals = argc - i;
  if (positionals < 1 || positionals > (is_kill ? 2 : 1)) return FALLBACK; /* usage errors */
  const char *id = argv[i];
  if (is_start) return cmd_start(&s, id);
  if (is_state) return cmd_state(&s, id);
  if (is_kill) return cmd_kill(&s, id, positionals == 2 ? argv[i + 1] : "SIGTERM");
  return cmd_delete(&s, id, force);
}

int main(int argc, char **argv) {
  int rc = dispatch(argc, argv);
  if (rc == FALLBACK) run_node(argc, argv);
  return rc;
}
