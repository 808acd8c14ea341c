/* Error records in logrus's text or JSON layout, byte for byte as src/cli/output.ts writes them. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "front-end.h"

void buf_add(struct buffer *b, const char *text, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap == 0 ? 256 : b->cap;
    while (cap < b->len + n + 1) cap *= 2;
    char *grown = realloc(b->data, cap);
    if (grown == NULL) abort();
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, text, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void buf_str(struct buffer *b, const char *text) { buf_add(b, text, strlen(text)); }

/* JSON.stringify of a string: `"` and `\` escaped, control characters as \b \f \n \r \t or \u00xx. */
void buf_json_string(struct buffer *b, const char *text, size_t n) {
  static const char hex[] = "0123456789abcdef";
  buf_add(b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)text[i];
    char esc[7];
    switch (c) {
      case '"': buf_add(b, "\\\"", 2); continue;
      case '\\': buf_add(b, "\\\\", 2); continue;
      case '\b': buf_add(b, "\\b", 2); continue;
      case '\f': buf_add(b, "\\f", 2); continue;
      case '\n': buf_add(b, "\\n", 2); continue;
      case '\r': buf_add(b, "\\r", 2); continue;
      case '\t': buf_add(b, "\\t", 2); continue;
      default: break;
    }
    if (c < 0x20) {
      memcpy(esc, "\\u00", 4);
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      buf_add(b, esc, 6);
    } else {
      buf_add(b, (const char *)&text[i], 1);
    }
  }
  buf_add(b, "\"", 1);
}

int write_all(int fd, const char *data, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return -1;
    }
    data += w;
    n -= (size_t)w;
  }
  return 0;
}

/* formatLogRecord('error', message, format, now, fields). */
static void format_record(struct buffer *b, int json, const char *message, const char *code,
                          const char *path) {
  char stamp[32];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (json) {
    buf_str(b, "{\"level\":\"error\",\"msg\":");
    buf_json_string(b, message, strlen(message));
    buf_str(b, ",\"time\":");
    buf_json_string(b, stamp, strlen(stamp));
    if (code != NULL) {
      buf_str(b, ",\"code\":");
      buf_json_string(b, code, strlen(code));
    }
    if (path != NULL) {
      buf_str(b, ",\"path\":");
      buf_json_string(b, path, strlen(path));
    }
    buf_str(b, "}\n");
    return;
  }
  buf_str(b, "time=");
  buf_json_string(b, stamp, strlen(stamp));
  buf_str(b, " level=error msg=");
  buf_json_string(b, message, strlen(message));
  buf_str(b, "\n");
}

void report_error(const struct settings *s, const char *message, const char *code, const char *path) {
  struct buffer record = {0};
  format_record(&record, s->log_json, message, code, path);
  if (s->log_file != NULL) {
    /* appendFileSync: created 0666 (less the umask); the log is best effort. */
    int fd = open(s->log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd >= 0) {
      (void)write_all(fd, record.data, record.len);
      close(fd);
    }
    struct buffer bare = {0};
    buf_str(&bare, message);
    buf_str(&bare, "\n");
    (void)write_all(2, bare.data, bare.len);
    free(bare.data);
  } else {
    (void)write_all(2, record.data, record.len);
  }
  free(record.data);
}
