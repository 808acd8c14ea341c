/*
 * A purpose-built scanner for <root>/<id>/state.json. The file is always JSON.stringify output (compact,
 * integers, only the escapes JSON.stringify produces); anything else, an unknown key or a duplicate one
 * makes the scan return FALLBACK so Node reads the record instead.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "front-end.h"

struct scanner {
  const char *p, *end;
};

static int is_hex_lower(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

/* A string token: raw bytes >= 0x20 and the escapes JSON.stringify writes. */
static int scan_string(struct scanner *s, struct span *out) {
  const char *start = s->p;
  if (s->p >= s->end || *s->p != '"') return FALLBACK;
  s->p++;
  while (s->p < s->end) {
    unsigned char c = (unsigned char)*s->p;
    if (c == '"') {
      s->p++;
      if (out != NULL) {
        out->p = start;
        out->n = (size_t)(s->p - start);
      }
      return 0;
    }
    if (c < 0x20) return FALLBACK;
    if (c == '\\') {
      if (s->end - s->p < 2) return FALLBACK;
      char e = s->p[1];
      if (e == '"' || e == '\\' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
        s->p += 2;
        continue;
      }
      if (e != 'u' || s->end - s->p < 6) return FALLBACK;
      for (int i = 2; i < 6; i++)
        if (!is_hex_lower(s->p[i])) return FALLBACK;
      s->p += 6;
      continue;
    }
    s->p++;
  }
  return FALLBACK;
}

/* An integer as JSON.stringify writes one: -?(0|[1-9][0-9]*). */
static int scan_integer(struct scanner *s, struct span *out) {
  const char *start = s->p;
  if (s->p < s->end && *s->p == '-') s->p++;
  if (s->p >= s->end || *s->p < '0' || *s->p > '9') return FALLBACK;
  if (*s->p == '0') {
    s->p++;
  } else {
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
  }
  if (s->p < s->end && (*s->p == '.' || *s->p == 'e' || *s->p == 'E')) return FALLBACK;
  if (out != NULL) {
    out->p = start;
    out->n = (size_t)(s->p - start);
  }
  return 0;
}

static int scan_literal(struct scanner *s, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) return FALLBACK;
  s->p += n;
  return 0;
}

static int scan_value(struct scanner *s, struct span *out, int depth);

/* An object or array; depth-limited. */
static int scan_container(struct scanner *s, int depth) {
  if (depth > 64) return FALLBACK;
  char open = *s->p, close = open == '{' ? '}' : ']';
  s->p++;
  if (s->p < s->end && *s->p == close) {
    s->p++;
    return 0;
  }
  for (;;) {
    if (open == '{') {
      if (scan_string(s, NULL) != 0) return FALLBACK;
      if (s->p >= s->end || *s->p != ':') return FALLBACK;
      s->p++;
    }
    if (scan_value(s, NULL, depth + 1) != 0) return FALLBACK;
    if (s->p >= s->end) return FALLBACK;
    if (*s->p == ',') {
      s->p++;
      continue;
    }
    if (*s->p != close) return FALLBACK;
    s->p++;
    return 0;
  }
}

static int scan_value(struct scanner *s, struct span *out, int depth) {
  const char *start = s->p;
  if (s->p >= s->end) return FALLBACK;
  int rc;
  switch (*s->p) {
    case '"': rc = scan_string(s, NULL); break;
    case '{':
    case '[': rc = scan_container(s, depth); break;
    case 't': rc = scan_literal(s, "true"); break;
    case 'f': rc = scan_literal(s, "false"); break;
    case 'n': rc = scan_literal(s, "null"); break;
    default: rc = scan_integer(s, NULL); break;
  }
  if (rc != 0) return FALLBACK;
  if (out != NULL) {
    out->p = start;
    out->n = (size_t)(s->p - start);
  }
  return 0;
}

int span_is(struct span s, const char *text) {
  size_t n = strlen(text);
  return s.p != NULL && s.n == n + 2 && s.p[0] == '"' && memcmp(s.p + 1, text, n) == 0;
}

int span_string(struct span s, char *out, size_t size) {
  if (s.p == NULL || s.n < 2 || s.p[0] != '"' || s.n - 2 >= size) return FALLBACK;
  if (memchr(s.p, '\\', s.n) != NULL) return FALLBACK;
  memcpy(out, s.p + 1, s.n - 2);
  out[s.n - 2] = '\0';
  return 0;
}

/* Whether a hooks entry is a non-empty array (runHooks does nothing for an empty one). */
static int hook_list(struct span value, int *non_empty) {
  if (value.n < 2 || value.p[0] != '[') return FALLBACK;
  *non_empty = value.n != 2;
  return 0;
}

/* `hooks` holds only poststart and poststop (see runtime.ts create). */
static int scan_hooks(struct record *r) {
  struct scanner s = {r->hooks.p, r->hooks.p + r->hooks.n};
  if (*s.p != '{') return FALLBACK;
  s.p++;
  if (*s.p == '}') return 0;
  for (;;) {
    struct span key, value;
    if (scan_string(&s, &key) != 0 || s.p >= s.end || *s.p != ':') return FALLBACK;
    s.p++;
    if (scan_value(&s, &value, 1) != 0) return FALLBACK;
    if (span_is(key, "poststart")) {
      if (hook_list(value, &r->has_poststart) != 0) return FALLBACK;
    } else if (span_is(key, "poststop")) {
      if (hook_list(value, &r->has_poststop) != 0) return FALLBACK;
    } else {
      return FALLBACK;
    }
    if (s.p < s.end && *s.p == ',') {
      s.p++;
      continue;
    }
    return s.p < s.end && *s.p == '}' ? 0 : FALLBACK;
  }
}

/* Annotations: an object of string values. */
static int check_annotations(struct span a) {
  struct scanner s = {a.p, a.p + a.n};
  if (*s.p != '{') return FALLBACK;
  s.p++;
  if (*s.p == '}') return 0;
  for (;;) {
    if (scan_string(&s, NULL) != 0 || s.p >= s.end || *s.p != ':') return FALLBACK;
    s.p++;
    if (scan_string(&s, NULL) != 0) return FALLBACK;
    if (s.p < s.end && *s.p == ',') {
      s.p++;
      continue;
    }
    return s.p < s.end && *s.p == '}' ? 0 : FALLBACK;
  }
}

static int is_string(struct span s) { return s.p != NULL && s.p[0] == '"'; }

static int scan_record(struct record *r) {
  struct scanner s = {r->text, r->text + r->len};
  static const char *const names[] = {"ociVersion", "id", "pid", "status", "bundle", "rootfs",
                                      "created", "owner", "annotations", "pidStartTime",
                                      "cgroupPath", "hooks", "seccomp", "sharedPidNamespace",
                                      "monitor"};
  struct span *slots[] = {&r->oci_version, &r->id, &r->pid, &r->status, &r->bundle,
                          &r->rootfs, &r->created, &r->owner, &r->annotations,
                          &r->pid_start_time, &r->cgroup_path, &r->hooks, &r->seccomp,
                          &r->shared_pid_ns, &r->monitor};
  const size_t count = sizeof names / sizeof names[0];
  if (s.p >= s.end || *s.p != '{') return FALLBACK;
  s.p++;
  if (s.p < s.end && *s.p == '}') return FALLBACK;
  for (;;) {
    struct span key, value;
    if (scan_string(&s, &key) != 0 || s.p >= s.end || *s.p != ':') return FALLBACK;
    s.p++;
    if (scan_value(&s, &value, 1) != 0) return FALLBACK;
    size_t i = 0;
    while (i < count && !span_is(key, names[i])) i++;
    if (i == count || slots[i]->p != NULL) return FALLBACK; /* unknown or duplicate key */
    *slots[i] = value;
    if (s.p < s.end && *s.p == ',') {
      s.p++;
      continue;
    }
    if (s.p >= s.end || *s.p != '}') return FALLBACK;
    s.p++;
    break;
  }
  if (s.p != s.end) return FALLBACK;
  /* The fields every record has, with their types. */
  if (!is_string(r->oci_version) || !is_string(r->id) || !is_string(r->status) ||
      !is_string(r->bundle) || !is_string(r->rootfs) || !is_string(r->created) ||
      !is_string(r->owner) || !is_string(r->pid_start_time) || !is_string(r->cgroup_path))
    return FALLBACK;
  if (r->pid.p == NULL || r->pid.p[0] == '"' || r->pid.n > 10) return FALLBACK;
  {
    struct scanner p = {r->pid.p, r->pid.p + r->pid.n};
    if (scan_integer(&p, NULL) != 0 || p.p != p.end) return FALLBACK;
    r->pid_value = strtol(r->pid.p, NULL, 10);
  }
  if (r->annotations.p != NULL && check_annotations(r->annotations) != 0) return FALLBACK;
  if (r->hooks.p != NULL && scan_hooks(r) != 0) return FALLBACK;
  if (r->shared_pid_ns.p != NULL && r->shared_pid_ns.p[0] != 't' && r->shared_pid_ns.p[0] != 'f')
    return FALLBACK;
  return 0;
}

int record_read(const char *path, struct record *r) {
  memset(r, 0, sizeof *r);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      errno = ENOENT;
      return -1;
    }
    return FALLBACK;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (64 << 20)) {
    close(fd);
    return FALLBACK;
  }
  size_t cap = (size_t)st.st_size + 1;
  char *text = malloc(cap);
  size_t len = 0;
  for (;;) {
    if (len + 1 >= cap) {
      cap *= 2;
      char *grown = realloc(text, cap);
      if (grown == NULL) abort();
      text = grown;
    }
    ssize_t got = read(fd, text + len, cap - len - 1);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      close(fd);
      free(text);
      return FALLBACK;
    }
    if (got == 0) break;
    len += (size_t)got;
  }
  close(fd);
  text[len] = '\0';
  r->text = text;
  r->len = len;
  if (scan_record(r) != 0) {
    free(text);
    memset(r, 0, sizeof *r);
    return FALLBACK;
  }
  return 0;
}

int annotations_pretty(struct span a, struct buffer *b) {
  struct scanner s = {a.p, a.p + a.n};
  int count = 0;
  s.p++; /* '{', checked by check_annotations */
  if (*s.p == '}') return 0;
  buf_str(b, ",\n  \"annotations\": {");
  for (;;) {
    struct span key, value;
    if (scan_string(&s, &key) != 0) return FALLBACK;
    s.p++; /* ':' */
    if (scan_string(&s, &value) != 0) return FALLBACK;
    buf_str(b, count == 0 ? "\n    " : ",\n    ");
    buf_add(b, key.p, key.n);
    buf_str(b, ": ");
    buf_add(b, value.p, value.n);
    count++;
    if (*s.p == ',') {
      s.p++;
      continue;
    }
    buf_str(b, "\n  }");
    return count;
  }
}
