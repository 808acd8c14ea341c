/*
 * ocikit-monitor — a small per-container monitor (in the spirit of conmon).
 *
 * It starts a "create" COMMAND (for example `runc create --pid-file P id`), hands that command pipes
 * as its stdout and stderr (a runtime without a terminal passes its own stdio to the container), becomes
 * the reaper of the container init that COMMAND leaves behind, copies the container's output to a log,
 * and records the init's exit status in a file. It keeps running after whoever started it has gone, so
 * no exit status is lost when the Node process that created a container exits or restarts.
 *
 * Usage:  ocikit-monitor [options] -- COMMAND [ARGS...]
 *
 *   --exit-file PATH        (required) written atomically (PATH.tmp + rename) when the container init
 *                           exits: {"pid":N,"exitCode":N,"signal":N|null,"exitedAt":"RFC3339Nano"}
 *                           exitCode is 128+signal when the init was killed by a signal (shell rule).
 *   --pid-file PATH         (required) where COMMAND writes the container init's pid; read once COMMAND
 *                           has exited with status 0.
 *   --log PATH              container stdout+stderr go here (opened O_APPEND|O_CREAT, mode 0640).
 *                           Without --log the output is read and discarded.
 *   --log-format raw|cri    raw (default): bytes appended as they arrive.
 *                           cri: Kubernetes CRI records `<RFC3339Nano> <stdout|stderr> <F|P> <text>\n`.
 *                           A line longer than --log-max-line bytes is cut into P records, its last part
 *                           is an F record; a trailing "\r" before "\n" is dropped; text still pending
 *                           when a stream ends (no final newline) is written as a P record. This is what
 *                           containerd's CRI logger (internal/cri/io/logger.go) does.
 *   --log-max-line N        cri line limit in bytes (default 16384, like containerd's default).
 *   --sync-fd N             an inherited fd (>= 3) on which one JSON line is written, then it is closed:
 *                             {"pid":N,"monitorPid":M}   COMMAND exited 0 and the pid file was read
 *                             {"error":"…","exitCode":N,"stderr":"…"}   creation failed; stderr holds the
 *                                                        last 4 KiB COMMAND wrote to its stderr.
 *   --timeout-create SECS   kill COMMAND (SIGKILL) and fail if it runs longer (decimals allowed; 0 = none).
 *   --drain-timeout SECS    after the init exits, wait at most this long (default 2) for every other holder
 *                           of the output pipes to close them before writing the exit file.
 *   --preserve-fds N        pass fds 3..3+N-1 on to COMMAND (the sync fd must be above them).
 *   --foreground            do not daemonize (tests, supervisors).
 *
 * Adopt mode (what @ocikit/oci-runtime's addon uses for a monitored create, so that no second runtime
 * process starts): instead of COMMAND, the monitor is exec'd by a process that has already cloned the
 * container's first stage and is its parent; the children stay the monitor's across execve.
 *   --adopt-fd N            read the container init's pid (decimal text and a newline) from this fd; EOF
 *                           before a pid means the create failed (an error goes to the sync fd, exit 1).
 *   --stdout-fd N, --stderr-fd N   read ends of the pipes that are the container's stdout and stderr.
 *   --stdin-fd N            with --stdin/--stdin-once: the write end of the container's stdin pipe.
 * No COMMAND, --pid-file, --timeout-create or --preserve-fds then; --foreground is implied (the exec'ing
 * process has its own session already).
 *   --stdin                 give the container a pipe as stdin (default /dev/null); the monitor holds its
 *                           write end and feeds it from attach clients; closed when the init exits.
 *   --stdin-once            like --stdin, and close the container's stdin when the first attach client
 *                           ends its input (shutdown of its writing side, or disconnect) — CRI StdinOnce.
 *   --attach-socket PATH    a unix stream socket (mode 0600, up to 8 clients). A client receives the
 *                           container's output from the moment it connects as frames:
 *                             stream id (1 byte: 1 stdout, 2 stderr), length (4 bytes, big-endian), bytes.
 *                           Bytes a client sends go to the container's stdin (dropped without --stdin).
 *                           A client too slow to take a frame at once is disconnected (possibly mid-frame);
 *                           the container never waits for it. Clients see EOF once the exit file exists;
 *                           the socket file is removed when the monitor exits.
 *
 * Daemonizing (the default): the monitor forks; the child calls setsid(), tells the parent, and the parent
 * exits 0 at once, so the starter never waits for the container. The child's stdin/stdout/stderr become
 * /dev/null. Its working directory is kept (COMMAND may use relative paths).
 *
 * Process model: PR_SET_CHILD_SUBREAPER makes orphans of COMMAND (the container init once `create`
 * returns) children of the monitor. SIGCHLD, SIGUSR1 are read from a signalfd in a poll() loop; every
 * child is reaped with waitpid(-1, WNOHANG). Exits of children seen before the init pid is known are kept
 * in a small table, so an init that exits before COMMAND does is not missed. SIGUSR1 reopens the log file
 * (log rotation, CRI ReopenContainerLog). SIGHUP and SIGPIPE are ignored; SIGTERM/SIGINT keep their
 * default action. COMMAND gets a clean signal mask and default dispositions.
 *
 * File descriptors: every inherited fd above 2 is closed at start except the sync fd and the preserved
 * ones; everything the monitor opens is close-on-exec. The monitor keeps only the read ends of the output
 * pipes (and, with --stdin, the write end of the stdin pipe).
 *
 * Limits: up to 32 exits of other children seen before the init pid is known are remembered; if COMMAND
 * leaves the init under another reaper (it is not the monitor's child), creation fails. When creation
 * fails no exit file is written; a container COMMAND may have left behind is the caller's to delete.
 *
 * Writing logs: writes loop until complete. A write error (ENOSPC, EIO, EFBIG...) drops that piece of
 * output and the monitor keeps draining the pipes, so a full disk never stalls the container (a blocked
 * pipe would). A log on a file system whose write() blocks forever (a hung NFS mount) would still stall
 * it; put logs on local storage.
 *
 * Exit status of the monitor: 0 after writing the exit file, 1 when creation failed, 2 on a usage error.
 * Memory: no allocation besides the two CRI line buffers (2 x --log-max-line); the read buffer is on the
 * stack; a 4 KiB stdin chunk and a 4 KiB stderr tail are static.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READ_BUFFER_SIZE 16384
#define STDERR_TAIL_SIZE 4096
#define EARLY_EXIT_SLOTS 32
#define TIMESTAMP_SIZE 40

struct options {
  const char *exit_file;
  const char *pid_file;
  const char *log_path;
  int log_cri;
  size_t log_max_line;
  int sync_fd;
  double timeout_create;
  double drain_timeout;
  int preserve_fds;
  int foreground;
  const char *attach_socket;
  int keep_stdin;
  int stdin_once;
  char **command;
  int adopt_fd;  /* adopt mode: the init pid arrives here; -1 otherwise */
  int stdout_fd; /* adopt mode: the container's output pipes (read ends) and stdin (write end) */
  int stderr_fd;
  int stdin_write_fd;
};

struct stream {
  int fd;           /* read end of the pipe, -1 once closed */
  int id;           /* attach frame stream id: 1 stdout, 2 stderr */
  const char *name; /* "stdout" or "stderr" */
  char *line;       /* cri: pending line, log_max_line bytes */
  size_t line_length;
};

struct early_exit {
  pid_t pid;
  int status;
  char at[TIMESTAMP_SIZE];
};

enum phase { PHASE_CREATING, PHASE_RUNNING, PHASE_DRAINING };

static struct options opts = {.log_max_line = 16384,
                               .sync_fd = -1,
                               .drain_timeout = 2.0,
                               .timeout_create = 0.0,
                               .adopt_fd = -1,
                               .stdout_fd = -1,
                               .stderr_fd = -1,
                               .stdin_write_fd = -1};
static struct stream streams[2];
static int log_fd = -1;
static unsigned long long dropped_bytes;

static char stderr_tail[STDERR_TAIL_SIZE];
static size_t stderr_tail_length;

static struct early_exit early_exits[EARLY_EXIT_SLOTS];
static unsigned early_exit_next;

static pid_t command_pid = -1;
static int command_status;
static int command_exited;
static pid_t init_pid = -1;
static int init_status;
static int init_exited;
static char init_exited_at[TIMESTAMP_SIZE];

/* ---- small helpers ------------------------------------------------------------------------------ */

static void diagnostic(const char *format, ...) {
  char text[512];
  va_list args;
  va_start(args, format);
  int length = vsnprintf(text, sizeof text - 1, format, args);
  va_end(args);
  if (length < 0) return;
  if ((size_t)length > sizeof text - 2) length = (int)sizeof text - 2;
  text[length++] = '\n';
  ssize_t ignored = write(STDERR_FILENO, "ocikit-monitor: ", 16);
  ignored = write(STDERR_FILENO, text, (size_t)length);
  (void)ignored;
}

/* Writes everything or fails; retries on EINTR and short writes. Returns 0 or -1 with errno set. */
static int write_all(int fd, const void *data, size_t length) {
  const char *cursor = data;
  while (length > 0) {
    ssize_t written = write(fd, cursor, length);
    if (written < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd wait_fd = {.fd = fd, .events = POLLOUT};
        if (poll(&wait_fd, 1, 1000) < 0 && errno != EINTR) return -1;
        continue;
      }
      return -1;
    }
    cursor += written;
    length -= (size_t)written;
  }
  return 0;
}

static double monotonic_seconds(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* RFC 3339 with nanoseconds, always 9 fraction digits, UTC ("Z"). */
static void timestamp_now(char out[TIMESTAMP_SIZE]) {
  struct timespec now;
  struct tm parts;
  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &parts);
  /* The modulos only tell the compiler the widths; every field is already in range. */
  snprintf(out, TIMESTAMP_SIZE, "%04u-%02u-%02uT%02u:%02u:%02u.%09luZ", (unsigned)(parts.tm_year + 1900) % 10000u,
           (unsigned)(parts.tm_mon + 1) % 100u, (unsigned)parts.tm_mday % 100u, (unsigned)parts.tm_hour % 100u,
           (unsigned)parts.tm_min % 100u, (unsigned)parts.tm_sec % 100u,
           (unsigned long)now.tv_nsec % 1000000000ul);
}

static int parse_int(const char *text, long minimum, long maximum, long *out) {
  char *end = NULL;
  errno = 0;
  long value = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < minimum || value > maximum) return -1;
  *out = value;
  return 0;
}

static int parse_seconds(const char *text, double *out) {
  char *end = NULL;
  errno = 0;
  double value = strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0' || !(value >= 0.0) || value > 1e7) return -1;
  *out = value;
  return 0;
}

/* ---- the sync fd ------------------------------------------------------------------------------- */

/* Appends a JSON string body (without quotes) to the sync fd, escaping as it goes. */
static void sync_write_escaped(const char *text, size_t length) {
  char chunk[512];
  size_t used = 0;
  for (size_t index = 0; index < length; index++) {
    unsigned char byte = (unsigned char)text[index];
    if (used + 8 > sizeof chunk) {
      if (write_all(opts.sync_fd, chunk, used) < 0) return;
      used = 0;
    }
    if (byte == '"' || byte == '\\') {
      chunk[used++] = '\\';
      chunk[used++] = (char)byte;
    } else if (byte == '\n') {
      chunk[used++] = '\\';
      chunk[used++] = 'n';
    } else if (byte == '\t') {
      chunk[used++] = '\\';
      chunk[used++] = 't';
    } else if (byte < 0x20 || byte == 0x7f) {
      used += (size_t)snprintf(chunk + used, sizeof chunk - used, "\\u%04x", byte);
    } else {
      chunk[used++] = (char)byte;
    }
  }
  if (used > 0) write_all(opts.sync_fd, chunk, used);
}

static void sync_close(void) {
  if (opts.sync_fd >= 0) close(opts.sync_fd);
  opts.sync_fd = -1;
}

static void sync_send_pid(void) {
  if (opts.sync_fd < 0) return;
  char line[96];
  int length = snprintf(line, sizeof line, "{\"pid\":%d,\"monitorPid\":%d}\n", (int)init_pid, (int)getpid());
  write_all(opts.sync_fd, line, (size_t)length);
  sync_close();
}

/* Writes {"error":message,"exitCode":N,"stderr":<tail of COMMAND's stderr>} on the sync fd and closes it. */
static void sync_send_error(const char *message, int exit_code) {
  if (opts.sync_fd < 0) return;
  char number[32];
  write_all(opts.sync_fd, "{\"error\":\"", 10);
  sync_write_escaped(message, strlen(message));
  int length = snprintf(number, sizeof number, "\",\"exitCode\":%d,\"stderr\":\"", exit_code);
  write_all(opts.sync_fd, number, (size_t)length);
  /* Start the tail at a line or character boundary when it was cut. */
  size_t start = 0;
  if (stderr_tail_length == STDERR_TAIL_SIZE) {
    while (start < stderr_tail_length && ((unsigned char)stderr_tail[start] & 0xc0) == 0x80) start++;
  }
  sync_write_escaped(stderr_tail + start, stderr_tail_length - start);
  write_all(opts.sync_fd, "\"}\n", 3);
  sync_close();
}

/* Reports a failed creation on the sync fd (and on stderr) and exits 1. */
static void fail_creation(int exit_code, const char *format, ...) {
  char message[512];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof message, format, args);
  va_end(args);
  diagnostic("%s", message);
  sync_send_error(message, exit_code);
  if (opts.attach_socket != NULL) unlink(opts.attach_socket);
  _exit(1);
}

/* ---- logging ----------------------------------------------------------------------------------- */

static void log_write(const struct iovec *parts, int count) {
  size_t total = 0;
  for (int index = 0; index < count; index++) total += parts[index].iov_len;
  if (log_fd < 0) return;
  ssize_t written;
  do {
    written = writev(log_fd, parts, count);
  } while (written < 0 && errno == EINTR);
  if (written == (ssize_t)total) return;
  if (written < 0) {
    /* Drop this piece and keep draining: never let a full disk back-pressure the container. */
    dropped_bytes += total;
    return;
  }
  /* Short write: finish piece by piece. */
  size_t skip = (size_t)written;
  for (int index = 0; index < count; index++) {
    const char *base = parts[index].iov_base;
    size_t length = parts[index].iov_len;
    if (skip >= length) {
      skip -= length;
      continue;
    }
    if (write_all(log_fd, base + skip, length - skip) < 0) {
      dropped_bytes += length - skip;
    }
    skip = 0;
  }
}

static void cri_record(struct stream *stream, char tag, const char *text, size_t length) {
  char header[TIMESTAMP_SIZE + 16];
  char timestamp[TIMESTAMP_SIZE];
  timestamp_now(timestamp);
  int header_length = snprintf(header, sizeof header, "%s %s %c ", timestamp, stream->name, tag);
  struct iovec parts[3] = {
      {.iov_base = header, .iov_len = (size_t)header_length},
      {.iov_base = (void *)text, .iov_len = length},
      {.iov_base = "\n", .iov_len = 1},
  };
  log_write(parts, 3);
}

/* Splits output into CRI records the way containerd's redirectLogs does. */
static void cri_feed(struct stream *stream, const char *data, size_t length) {
  size_t limit = opts.log_max_line;
  while (length > 0) {
    const char *newline = memchr(data, '\n', length);
    size_t segment = newline ? (size_t)(newline - data) : length;
    if (newline && stream->line_length == 0 && segment <= limit) {
      /* A whole line in the read buffer: no copy needed. */
      size_t text_length = segment;
      if (text_length > 0 && data[text_length - 1] == '\r') text_length--;
      cri_record(stream, 'F', data, text_length);
      data += segment + 1;
      length -= segment + 1;
      continue;
    }
    while (segment > 0) {
      if (stream->line_length == limit) {
        cri_record(stream, 'P', stream->line, stream->line_length);
        stream->line_length = 0;
      }
      size_t room = limit - stream->line_length;
      size_t take = segment < room ? segment : room;
      memcpy(stream->line + stream->line_length, data, take);
      stream->line_length += take;
      data += take;
      length -= take;
      segment -= take;
    }
    if (newline) {
      size_t text_length = stream->line_length;
      if (text_length > 0 && stream->line[text_length - 1] == '\r') text_length--;
      cri_record(stream, 'F', stream->line, text_length);
      stream->line_length = 0;
      data++;
      length--;
    }
  }
}

static void cri_flush(struct stream *stream) {
  if (opts.log_cri && stream->line_length > 0) {
    /* containerd writes output that ends without a newline as a partial record. */
    cri_record(stream, 'P', stream->line, stream->line_length);
    stream->line_length = 0;
  }
}

static int open_log(void) {
  return open(opts.log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
}

static void reopen_log(void) {
  if (opts.log_path == NULL) return;
  int fresh = open_log();
  if (fresh < 0) {
    diagnostic("reopen log %s: %s (keeping the old file)", opts.log_path, strerror(errno));
    return;
  }
  if (log_fd >= 0) close(log_fd);
  log_fd = fresh;
}

static void remember_stderr(const char *data, size_t length) {
  if (length >= STDERR_TAIL_SIZE) {
    memcpy(stderr_tail, data + length - STDERR_TAIL_SIZE, STDERR_TAIL_SIZE);
    stderr_tail_length = STDERR_TAIL_SIZE;
    return;
  }
  if (stderr_tail_length + length > STDERR_TAIL_SIZE) {
    size_t drop = stderr_tail_length + length - STDERR_TAIL_SIZE;
    memmove(stderr_tail, stderr_tail + drop, stderr_tail_length - drop);
    stderr_tail_length -= drop;
  }
  memcpy(stderr_tail + stderr_tail_length, data, length);
  stderr_tail_length += length;
}

/* ---- attach socket and the container's stdin ---------------------------------------------------- */

#define ATTACH_CLIENTS 8
#define STDIN_CHUNK 4096

struct attach_client {
  int fd;      /* -1 when the slot is free */
  int reading; /* the client may still send stdin bytes */
};

static int attach_listen_fd = -1;
static struct attach_client attach_clients[ATTACH_CLIENTS];
static int stdin_fd = -1; /* write end of the container's stdin pipe */
static int stdin_close_requested;
static char stdin_pending[STDIN_CHUNK];
static size_t stdin_pending_length;
static size_t stdin_pending_offset;

static void stdin_close(void) {
  if (stdin_fd >= 0) close(stdin_fd);
  stdin_fd = -1;
  stdin_pending_length = stdin_pending_offset = 0;
}

/* Writes what the pipe takes now; the rest waits for POLLOUT. */
static void stdin_flush(void) {
  while (stdin_fd >= 0 && stdin_pending_offset < stdin_pending_length) {
    ssize_t written =
        write(stdin_fd, stdin_pending + stdin_pending_offset, stdin_pending_length - stdin_pending_offset);
    if (written < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      stdin_close(); /* EPIPE: nobody reads the container's stdin any more */
      return;
    }
    stdin_pending_offset += (size_t)written;
  }
  stdin_pending_length = stdin_pending_offset = 0;
  if (stdin_close_requested) stdin_close();
}

static void attach_drop(struct attach_client *client) {
  if (client->fd < 0) return;
  close(client->fd);
  client->fd = -1;
  if (client->reading && opts.stdin_once) {
    stdin_close_requested = 1;
    stdin_flush();
  }
  client->reading = 0;
}

static void attach_open(void) {
  struct sockaddr_un address = {.sun_family = AF_UNIX};
  if (strlen(opts.attach_socket) >= sizeof address.sun_path) {
    fail_creation(1, "attach socket path is longer than %zu bytes", sizeof address.sun_path - 1);
  }
  memcpy(address.sun_path, opts.attach_socket, strlen(opts.attach_socket) + 1);
  struct stat info;
  if (lstat(opts.attach_socket, &info) == 0 && S_ISSOCK(info.st_mode)) unlink(opts.attach_socket);
  attach_listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (attach_listen_fd < 0) fail_creation(1, "attach socket: %s", strerror(errno));
  /* Owner only, from the moment the name exists. */
  mode_t old_umask = umask(0177);
  int bound = bind(attach_listen_fd, (struct sockaddr *)&address, sizeof address);
  umask(old_umask);
  if (bound < 0 || listen(attach_listen_fd, ATTACH_CLIENTS) < 0) {
    fail_creation(1, "attach socket %s: %s", opts.attach_socket, strerror(errno));
  }
}

static void attach_accept(void) {
  for (;;) {
    int fd = accept4(attach_listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR) continue;
      return;
    }
    struct attach_client *slot = NULL;
    for (int index = 0; index < ATTACH_CLIENTS && slot == NULL; index++) {
      if (attach_clients[index].fd < 0) slot = &attach_clients[index];
    }
    if (slot == NULL) {
      close(fd); /* full: the client sees EOF at once */
      continue;
    }
    slot->fd = fd;
    slot->reading = 1;
  }
}

/*
 * Sends one frame — stream id (1 byte), length (4 bytes, big-endian), bytes — to every client. A client
 * that cannot take the whole frame at once is disconnected rather than waited for: the container must
 * never stall behind a slow reader (the log has everything).
 */
static void attach_broadcast(int stream_id, const char *data, size_t length) {
  unsigned char header[5] = {(unsigned char)stream_id, (unsigned char)(length >> 24), (unsigned char)(length >> 16),
                             (unsigned char)(length >> 8), (unsigned char)length};
  for (int index = 0; index < ATTACH_CLIENTS; index++) {
    struct attach_client *client = &attach_clients[index];
    if (client->fd < 0) continue;
    struct iovec parts[2] = {{.iov_base = header, .iov_len = sizeof header},
                             {.iov_base = (void *)data, .iov_len = length}};
    struct msghdr message = {.msg_iov = parts, .msg_iovlen = 2};
    ssize_t sent;
    do {
      sent = sendmsg(client->fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (sent < 0 && errno == EINTR);
    if (sent != (ssize_t)(length + sizeof header)) attach_drop(client);
  }
}

/* Bytes from a client go to the container's stdin (or nowhere without --stdin). */
static void attach_receive(struct attach_client *client) {
  ssize_t got;
  do {
    got = recv(client->fd, stdin_pending, sizeof stdin_pending, 0);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    if (errno != EAGAIN) attach_drop(client);
    return;
  }
  if (got == 0) {
    /* The client shut down its writing side: its input is over, it may still read output. */
    if (opts.stdin_once) {
      stdin_close_requested = 1;
      stdin_flush();
    }
    client->reading = 0;
    return;
  }
  if (stdin_fd < 0) return;
  stdin_pending_length = (size_t)got;
  stdin_pending_offset = 0;
  stdin_flush();
}

static void stream_output(struct stream *stream, const char *data, size_t length, int creating) {
  if (creating && stream == &streams[1]) remember_stderr(data, length);
  if (opts.log_cri) {
    cri_feed(stream, data, length);
  } else {
    struct iovec part = {.iov_base = (void *)data, .iov_len = length};
    log_write(&part, 1);
  }
  attach_broadcast(stream->id, data, length);
}

static void stream_close(struct stream *stream) {
  if (stream->fd < 0) return;
  close(stream->fd);
  stream->fd = -1;
  cri_flush(stream);
}

/* Reads what is available (non-blocking fd). Closes the stream at EOF or on a read error. */
static void stream_read(struct stream *stream, int creating) {
  char buffer[READ_BUFFER_SIZE];
  for (int round = 0; round < 16 && stream->fd >= 0; round++) {
    ssize_t got = read(stream->fd, buffer, sizeof buffer);
    if (got > 0) {
      stream_output(stream, buffer, (size_t)got, creating);
      if ((size_t)got < sizeof buffer) return;
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && errno == EAGAIN) return;
    stream_close(stream);
  }
}

/* ---- children ---------------------------------------------------------------------------------- */

static void remember_early_exit(pid_t pid, int status) {
  struct early_exit *slot = &early_exits[early_exit_next % EARLY_EXIT_SLOTS];
  early_exit_next++;
  slot->pid = pid;
  slot->status = status;
  timestamp_now(slot->at);
}

static void reap_children(void) {
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return;
    if (pid == command_pid) {
      command_status = status;
      command_exited = 1;
    } else if (init_pid > 0 && pid == init_pid) {
      if (!init_exited) {
        init_status = status;
        init_exited = 1;
        timestamp_now(init_exited_at);
      }
    } else if (init_pid <= 0) {
      remember_early_exit(pid, status);
    }
  }
}

/* The parent pid of `pid` from /proc/<pid>/stat, or -1 when it cannot be read. */
static pid_t parent_of(pid_t pid) {
  char path[64];
  char text[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t got = read(fd, text, sizeof text - 1);
  close(fd);
  if (got <= 0) return -1;
  text[got] = '\0';
  /* The command name may hold spaces and parentheses: the fields resume after the last ')'. */
  char *after = strrchr(text, ')');
  if (after == NULL) return -1;
  char state;
  int parent;
  if (sscanf(after + 1, " %c %d", &state, &parent) != 2) return -1;
  return (pid_t)parent;
}

static void read_pid_file(void) {
  char text[64];
  int fd = open(opts.pid_file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_creation(1, "read pid file %s: %s", opts.pid_file, strerror(errno));
  ssize_t got;
  do {
    got = read(fd, text, sizeof text - 1);
  } while (got < 0 && errno == EINTR);
  close(fd);
  if (got < 0) fail_creation(1, "read pid file %s: %s", opts.pid_file, strerror(errno));
  text[got] = '\0';
  while (got > 0 && (text[got - 1] == '\n' || text[got - 1] == ' ' || text[got - 1] == '\r')) {
    text[--got] = '\0';
  }
  long value;
  if (parse_int(text, 1, INT_MAX, &value) < 0) {
    fail_creation(1, "pid file %s does not hold a pid: \"%.32s\"", opts.pid_file, text);
  }
  init_pid = (pid_t)value;
}

/* init_pid is set: take an exit seen before it was known, check the init is ours, tell the starter. */
static void init_known(void) {
  for (unsigned index = 0; index < EARLY_EXIT_SLOTS; index++) {
    if (early_exits[index].pid == init_pid) {
      init_status = early_exits[index].status;
      init_exited = 1;
      memcpy(init_exited_at, early_exits[index].at, TIMESTAMP_SIZE);
      break;
    }
  }
  if (!init_exited && parent_of(init_pid) != getpid()) {
    fail_creation(1, "container process %d is not a child of the monitor", (int)init_pid);
  }
  sync_send_pid();
}

/* COMMAND has exited: decide whether the container exists and whom to watch. */
static void command_finished(int timed_out) {
  if (timed_out) {
    fail_creation(137, "create command timed out after %g seconds", opts.timeout_create);
  }
  if (WIFSIGNALED(command_status)) {
    fail_creation(128 + WTERMSIG(command_status), "create command killed by signal %d",
                  WTERMSIG(command_status));
  }
  if (WEXITSTATUS(command_status) != 0) {
    fail_creation(WEXITSTATUS(command_status), "create command exited with status %d",
                  WEXITSTATUS(command_status));
  }
  read_pid_file();
  init_known();
}

/* ---- the exit file ----------------------------------------------------------------------------- */

static int write_exit_file(void) {
  char temporary[PATH_MAX];
  char text[256];
  int exit_code;
  char signal_text[16];
  if (WIFSIGNALED(init_status)) {
    exit_code = 128 + WTERMSIG(init_status);
    snprintf(signal_text, sizeof signal_text, "%d", WTERMSIG(init_status));
  } else {
    exit_code = WEXITSTATUS(init_status);
    snprintf(signal_text, sizeof signal_text, "null");
  }
  int length = snprintf(text, sizeof text, "{\"pid\":%d,\"exitCode\":%d,\"signal\":%s,\"exitedAt\":\"%s\"}\n",
                        (int)init_pid, exit_code, signal_text, init_exited_at);
  if (snprintf(temporary, sizeof temporary, "%s.tmp", opts.exit_file) >= (int)sizeof temporary) {
    diagnostic("exit file path too long");
    return -1;
  }
  int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd < 0) {
    diagnostic("write exit file %s: %s", temporary, strerror(errno));
    return -1;
  }
  if (write_all(fd, text, (size_t)length) < 0 || fsync(fd) < 0) {
    diagnostic("write exit file %s: %s", temporary, strerror(errno));
    close(fd);
    unlink(temporary);
    return -1;
  }
  close(fd);
  if (rename(temporary, opts.exit_file) < 0) {
    diagnostic("rename exit file to %s: %s", opts.exit_file, strerror(errno));
    unlink(temporary);
    return -1;
  }
  return 0;
}

/* ---- start-up ---------------------------------------------------------------------------------- */

static void usage_error(const char *format, ...) {
  char message[256];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof message, format, args);
  va_end(args);
  diagnostic("%s", message);
  diagnostic("usage: ocikit-monitor --exit-file PATH --pid-file PATH [--log PATH] [--log-format raw|cri] "
             "[--log-max-line N] [--sync-fd N] [--timeout-create S] [--drain-timeout S] [--preserve-fds N] "
             "[--attach-socket PATH] [--stdin] [--stdin-once] [--foreground] -- COMMAND [ARGS...]");
  /* Nothing has run yet, so the stderr tail is empty; the sync fd, when set, is >= 3. */
  sync_send_error(message, 2);
  _exit(2);
}

static void parse_arguments(int argc, char **argv) {
  int index = 1;
  /* Find --sync-fd first so that usage errors can be reported there too. */
  for (int scan = 1; scan + 1 < argc && strcmp(argv[scan], "--") != 0; scan++) {
    long value;
    if (strcmp(argv[scan], "--sync-fd") == 0 && parse_int(argv[scan + 1], 3, INT_MAX, &value) == 0) {
      opts.sync_fd = (int)value;
    }
  }
  for (; index < argc; index++) {
    const char *name = argv[index];
    if (strcmp(name, "--") == 0) {
      index++;
      break;
    }
    if (strcmp(name, "--foreground") == 0) {
      opts.foreground = 1;
      continue;
    }
    if (strcmp(name, "--stdin") == 0 || strcmp(name, "--stdin-once") == 0) {
      opts.keep_stdin = 1;
      if (name[7] == '-') opts.stdin_once = 1;
      continue;
    }
    if (index + 1 >= argc) usage_error("option %s needs a value", name);
    const char *value = argv[++index];
    long number;
    if (strcmp(name, "--exit-file") == 0) {
      opts.exit_file = value;
    } else if (strcmp(name, "--pid-file") == 0) {
      opts.pid_file = value;
    } else if (strcmp(name, "--attach-socket") == 0) {
      opts.attach_socket = value;
    } else if (strcmp(name, "--log") == 0) {
      opts.log_path = value;
    } else if (strcmp(name, "--log-format") == 0) {
      if (strcmp(value, "raw") == 0) {
        opts.log_cri = 0;
      } else if (strcmp(value, "cri") == 0) {
        opts.log_cri = 1;
      } else {
        usage_error("--log-format must be raw or cri, not \"%s\"", value);
      }
    } else if (strcmp(name, "--log-max-line") == 0) {
      if (parse_int(value, 64, 16 * 1024 * 1024, &number) < 0) {
        usage_error("--log-max-line must be a number from 64 to 16777216");
      }
      opts.log_max_line = (size_t)number;
    } else if (strcmp(name, "--sync-fd") == 0) {
      if (parse_int(value, 3, INT_MAX, &number) < 0) usage_error("--sync-fd must be a number >= 3");
      opts.sync_fd = (int)number;
    } else if (strcmp(name, "--timeout-create") == 0) {
      if (parse_seconds(value, &opts.timeout_create) < 0) usage_error("bad --timeout-create \"%s\"", value);
    } else if (strcmp(name, "--drain-timeout") == 0) {
      if (parse_seconds(value, &opts.drain_timeout) < 0) usage_error("bad --drain-timeout \"%s\"", value);
    } else if (strcmp(name, "--preserve-fds") == 0) {
      if (parse_int(value, 0, 65536, &number) < 0) usage_error("bad --preserve-fds \"%s\"", value);
      opts.preserve_fds = (int)number;
    } else if (strcmp(name, "--adopt-fd") == 0 || strcmp(name, "--stdout-fd") == 0 ||
               strcmp(name, "--stderr-fd") == 0 || strcmp(name, "--stdin-fd") == 0) {
      if (parse_int(value, 3, INT_MAX, &number) < 0) usage_error("%s must be a number >= 3", name);
      if (name[3] == 'd') opts.adopt_fd = (int)number;
      else if (name[5] == 'o') opts.stdout_fd = (int)number;
      else if (name[5] == 'e') opts.stderr_fd = (int)number;
      else opts.stdin_write_fd = (int)number;
    } else {
      usage_error("unknown option %s", name);
    }
  }
  if (opts.exit_file == NULL) usage_error("--exit-file is required");
  if (opts.adopt_fd >= 0) {
    if (index < argc) usage_error("no COMMAND with --adopt-fd");
    if (opts.stdout_fd < 0 || opts.stderr_fd < 0) usage_error("--adopt-fd needs --stdout-fd and --stderr-fd");
    if (opts.keep_stdin != (opts.stdin_write_fd >= 0)) usage_error("--stdin-fd goes with --stdin or --stdin-once");
    if (opts.timeout_create > 0 || opts.preserve_fds > 0 || opts.pid_file != NULL) {
      usage_error("--timeout-create, --preserve-fds and --pid-file do not apply with --adopt-fd");
    }
    opts.foreground = 1;
    return;
  }
  if (opts.stdout_fd >= 0 || opts.stderr_fd >= 0 || opts.stdin_write_fd >= 0) {
    usage_error("--stdout-fd, --stderr-fd and --stdin-fd need --adopt-fd");
  }
  if (index >= argc) usage_error("missing COMMAND after --");
  if (opts.pid_file == NULL) usage_error("--pid-file is required");
  if (opts.sync_fd >= 0 && opts.sync_fd < 3 + opts.preserve_fds) {
    usage_error("--sync-fd %d must be above the preserved fds 3..%d", opts.sync_fd, 2 + opts.preserve_fds);
  }
  opts.command = argv + index;
}

static void close_range_fallback(unsigned first, unsigned last) {
  struct rlimit limit;
  unsigned maximum = 65536;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < maximum) {
    maximum = (unsigned)limit.rlim_cur;
  }
  if (last > maximum) last = maximum;
  for (unsigned fd = first; fd <= last && fd < maximum; fd++) close((int)fd);
}

static void close_fds(unsigned first, unsigned last) {
  if (first > last) return;
#ifdef SYS_close_range
  if (syscall(SYS_close_range, first, last, 0) == 0) return;
#endif
  close_range_fallback(first, last);
}

/* Closes inherited fds above 2 except the preserved ones, the sync fd and the adopted ones; makes 0..2 valid. */
static void tidy_file_descriptors(void) {
  /* Keep the preserved fds, then the sync fd and the adopted ones (-1 when unset, and parse_arguments puts
   * the sync fd above the preserved ones), in ascending order, closing the gaps. */
  int keep[5] = {opts.sync_fd, opts.adopt_fd, opts.stdout_fd, opts.stderr_fd, opts.stdin_write_fd};
  for (int i = 0; i < 5; i++) {
    for (int j = i + 1; j < 5; j++) {
      if (keep[j] < keep[i]) {
        int swap = keep[i];
        keep[i] = keep[j];
        keep[j] = swap;
      }
    }
  }
  unsigned next = 3 + (unsigned)opts.preserve_fds; /* first fd not preserved */
  for (int i = 0; i < 5; i++) {
    if (keep[i] < 3 || (unsigned)keep[i] < next) continue;
    close_fds(next, (unsigned)keep[i] - 1);
    fcntl(keep[i], F_SETFD, FD_CLOEXEC);
    next = (unsigned)keep[i] + 1;
  }
  close_fds(next, ~0U);
  for (int fd = 0; fd <= 2; fd++) {
    if (fcntl(fd, F_GETFD) < 0) {
      int null_fd = open("/dev/null", O_RDWR);
      if (null_fd >= 0 && null_fd != fd) {
        dup2(null_fd, fd);
        close(null_fd);
      }
    }
  }
}

static void daemonize(void) {
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) < 0) fail_creation(1, "daemonize: pipe: %s", strerror(errno));
  pid_t child = fork();
  if (child < 0) fail_creation(1, "daemonize: fork: %s", strerror(errno));
  if (child > 0) {
    /* The starter waits only until the daemon has its own session, then leaves. */
    close(ready[1]);
    char byte;
    ssize_t got;
    do {
      got = read(ready[0], &byte, 1);
    } while (got < 0 && errno == EINTR);
    _exit(got == 1 ? 0 : 1);
  }
  close(ready[0]);
  if (setsid() < 0) {
    diagnostic("setsid: %s", strerror(errno));
    _exit(1);
  }
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd >= 0) {
    dup2(null_fd, STDIN_FILENO);
    dup2(null_fd, STDOUT_FILENO);
    dup2(null_fd, STDERR_FILENO);
    close(null_fd);
  }
  write_all(ready[1], "", 1);
  close(ready[1]);
}

static void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* The read ends of the container's stdout and stderr, and (with --stdin) the write end of its stdin. */
static void watch_container_pipes(int out_fd, int err_fd, int in_fd) {
  streams[0].fd = out_fd;
  streams[1].fd = err_fd;
  for (int index = 0; index < 2; index++) {
    int flags = fcntl(streams[index].fd, F_GETFL);
    /* Only an adopted fd can be bad: COMMAND's pipes were made just now. */
    if (flags < 0) fail_creation(1, "adopted %s fd %d: %s", streams[index].name, streams[index].fd, strerror(errno));
    fcntl(streams[index].fd, F_SETFL, flags | O_NONBLOCK);
  }
  if (opts.keep_stdin) {
    stdin_fd = in_fd;
    set_nonblocking(stdin_fd);
  }
}

static void start_command(sigset_t *old_mask) {
  int out_pipe[2];
  int err_pipe[2];
  int in_pipe[2] = {-1, -1};
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) fail_creation(1, "open /dev/null: %s", strerror(errno));
  if (opts.keep_stdin && pipe2(in_pipe, O_CLOEXEC) < 0) fail_creation(1, "create pipes: %s", strerror(errno));
  int child_stdin = opts.keep_stdin ? in_pipe[0] : null_fd;
  if (pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0) {
    fail_creation(1, "create pipes: %s", strerror(errno));
  }
  command_pid = fork();
  if (command_pid < 0) fail_creation(1, "fork: %s", strerror(errno));
  if (command_pid == 0) {
    /* COMMAND (and the container after it) must not inherit the monitor's signal set-up. */
    sigprocmask(SIG_SETMASK, old_mask, NULL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    if (dup2(child_stdin, STDIN_FILENO) < 0 || dup2(out_pipe[1], STDOUT_FILENO) < 0 ||
        dup2(err_pipe[1], STDERR_FILENO) < 0) {
      _exit(127);
    }
    execvp(opts.command[0], opts.command);
    int saved = errno;
    char text[512];
    int length = snprintf(text, sizeof text, "ocikit-monitor: exec %s: %s\n", opts.command[0], strerror(saved));
    if (length > 0) write_all(STDERR_FILENO, text, (size_t)length);
    _exit(saved == ENOENT ? 127 : 126);
  }
  close(null_fd);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (opts.keep_stdin) close(in_pipe[0]);
  /* The preserved fds belong to COMMAND now. */
  if (opts.preserve_fds > 0) close_fds(3, 2 + (unsigned)opts.preserve_fds);
  watch_container_pipes(out_pipe[0], err_pipe[0], in_pipe[1]);
}

/* Adopt mode: the container's pipes were made by whoever exec'd the monitor. */
static void adopt_start(void) {
  set_nonblocking(opts.adopt_fd);
  watch_container_pipes(opts.stdout_fd, opts.stderr_fd, opts.stdin_write_fd);
  /* Children that ended before the exec (the first stage does, quickly) are reaped now. */
  reap_children();
}

static char adopt_text[32];
static size_t adopt_length;

/* Reads the adopt fd; returns 1 once the message is in: a newline, or EOF (nothing, or a bare number). */
static int adopt_read(void) {
  for (;;) {
    char buffer[32];
    ssize_t got = read(opts.adopt_fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && errno == EAGAIN) return 0;
    if (got <= 0) return 1;
    size_t room = sizeof adopt_text - 1 - adopt_length;
    size_t take = (size_t)got < room ? (size_t)got : room;
    memcpy(adopt_text + adopt_length, buffer, take);
    adopt_length += take;
    if (memchr(adopt_text, '\n', adopt_length) != NULL) return 1;
  }
}

/* The creator has spoken: the init's pid, or nothing (the create failed). */
static void adopt_finished(void) {
  close(opts.adopt_fd);
  opts.adopt_fd = -1;
  adopt_text[adopt_length] = '\0';
  while (adopt_length > 0 && (adopt_text[adopt_length - 1] == '\n' || adopt_text[adopt_length - 1] == ' ')) {
    adopt_text[--adopt_length] = '\0';
  }
  long value;
  if (adopt_length == 0) fail_creation(1, "the container was not created");
  if (parse_int(adopt_text, 1, INT_MAX, &value) < 0) {
    fail_creation(1, "adopt fd does not hold a pid: \"%.32s\"", adopt_text);
  }
  init_pid = (pid_t)value;
  init_known();
}

/* ---- main -------------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
  /* A reader that went away (sync fd, closed pipe) must not kill the monitor. */
  signal(SIGPIPE, SIG_IGN);
  parse_arguments(argc, argv);
  tidy_file_descriptors();
  if (!opts.foreground) daemonize();

  streams[0].name = "stdout";
  streams[1].name = "stderr";
  streams[0].fd = streams[1].fd = -1;
  streams[0].id = 1;
  streams[1].id = 2;
  for (int index = 0; index < ATTACH_CLIENTS; index++) attach_clients[index].fd = -1;
  if (opts.log_cri) {
    for (int index = 0; index < 2; index++) {
      streams[index].line = malloc(opts.log_max_line);
      if (streams[index].line == NULL) fail_creation(1, "allocate line buffer: out of memory");
    }
  }

  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
    fail_creation(1, "become a child subreaper: %s", strerror(errno));
  }
  signal(SIGHUP, SIG_IGN);
  sigset_t handled;
  sigset_t old_mask;
  sigemptyset(&handled);
  sigaddset(&handled, SIGCHLD);
  sigaddset(&handled, SIGUSR1);
  if (sigprocmask(SIG_BLOCK, &handled, &old_mask) < 0) fail_creation(1, "block signals: %s", strerror(errno));
  int signal_fd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd < 0) fail_creation(1, "signalfd: %s", strerror(errno));

  if (opts.log_path != NULL) {
    log_fd = open_log();
    if (log_fd < 0) fail_creation(1, "open log %s: %s", opts.log_path, strerror(errno));
  }

  if (opts.attach_socket != NULL) attach_open();
  if (opts.adopt_fd >= 0) {
    adopt_start();
  } else {
    start_command(&old_mask);
  }

  enum phase phase = PHASE_CREATING;
  double create_deadline = opts.timeout_create > 0 ? monotonic_seconds() + opts.timeout_create : 0;
  double drain_deadline = 0;
  int timed_out = 0;

  for (;;) {
    if (phase == PHASE_DRAINING && streams[0].fd < 0 && streams[1].fd < 0) break;

    int timeout_ms = -1;
    double now = monotonic_seconds();
    double deadline = 0;
    if (phase == PHASE_CREATING && create_deadline > 0 && !timed_out) deadline = create_deadline;
    if (phase == PHASE_DRAINING) deadline = drain_deadline;
    if (deadline > 0) {
      double left = deadline - now;
      timeout_ms = left <= 0 ? 0 : (int)(left * 1000.0) + 1;
    }

    struct pollfd watched[5 + ATTACH_CLIENTS];
    void *owners[5 + ATTACH_CLIENTS];
    char kinds[5 + ATTACH_CLIENTS];
    nfds_t count = 0;
#define WATCH(watched_fd, watched_events, kind, owner)                                  \
  do {                                                                                 \
    watched[count] = (struct pollfd){.fd = (watched_fd), .events = (watched_events)}; \
    kinds[count] = (kind);                                                             \
    owners[count++] = (owner);                                                         \
  } while (0)
    WATCH(signal_fd, POLLIN, 's', NULL);
    for (int index = 0; index < 2; index++) {
      if (streams[index].fd >= 0) WATCH(streams[index].fd, POLLIN, 'o', &streams[index]);
    }
    if (attach_listen_fd >= 0) WATCH(attach_listen_fd, POLLIN, 'l', NULL);
    for (int index = 0; index < ATTACH_CLIENTS; index++) {
      struct attach_client *client = &attach_clients[index];
      /* While a stdin chunk is pending, clients are not read: back-pressure instead of buffering. */
      if (client->fd >= 0) WATCH(client->fd, client->reading && stdin_pending_length == 0 ? POLLIN : 0, 'c', client);
    }
    if (stdin_fd >= 0 && stdin_pending_length > 0) WATCH(stdin_fd, POLLOUT, 'i', NULL);
    if (phase == PHASE_CREATING && opts.adopt_fd >= 0) WATCH(opts.adopt_fd, POLLIN, 'a', NULL);
#undef WATCH

    int ready = poll(watched, count, timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      diagnostic("poll: %s", strerror(errno));
      break;
    }

    for (nfds_t index = 1; index < count; index++) {
      short events = watched[index].revents;
      if (events == 0) continue;
      switch (kinds[index]) {
      case 'o':
        stream_read(owners[index], phase == PHASE_CREATING);
        break;
      case 'l':
        attach_accept();
        break;
      case 'c': {
        struct attach_client *client = owners[index];
        if (client->fd != watched[index].fd) break; /* dropped meanwhile */
        if (events & POLLIN) {
          attach_receive(client);
        } else if (events & (POLLHUP | POLLERR | POLLNVAL)) {
          attach_drop(client);
        }
        break;
      }
      case 'i':
        stdin_flush();
        break;
      case 'a':
        if (adopt_read()) {
          adopt_finished();
          phase = PHASE_RUNNING;
        }
        break;
      }
    }

    if (watched[0].revents & POLLIN) {
      struct signalfd_siginfo info;
      int reap = 0;
      for (;;) {
        ssize_t got = read(signal_fd, &info, sizeof info);
        if (got < 0 && errno == EINTR) continue;
        if (got != (ssize_t)sizeof info) break;
        if (info.ssi_signo == SIGCHLD) reap = 1;
        if (info.ssi_signo == SIGUSR1) reopen_log();
      }
      if (reap) reap_children();
    }

    now = monotonic_seconds();
    if (phase == PHASE_CREATING) {
      if (!command_exited && !timed_out && create_deadline > 0 && now >= create_deadline) {
        timed_out = 1;
        kill(command_pid, SIGKILL);
      }
      if (command_exited) {
        /* Everything COMMAND wrote is in the pipe now; take it before judging. */
        for (int index = 0; index < 2; index++) stream_read(&streams[index], 1);
        command_finished(timed_out);
        phase = PHASE_RUNNING;
      }
    }
    if (phase == PHASE_RUNNING && init_exited) {
      /* Nobody is left to read stdin. */
      stdin_close();
      phase = PHASE_DRAINING;
      drain_deadline = now + opts.drain_timeout;
    }
    if (phase == PHASE_DRAINING && now >= drain_deadline) {
      /* Someone else still holds the pipes: take what is there and stop waiting. */
      for (int index = 0; index < 2; index++) {
        stream_read(&streams[index], 0);
        stream_close(&streams[index]);
      }
    }
  }

  int result = write_exit_file();
  /* Attach clients see EOF only after the exit file exists. */
  if (opts.attach_socket != NULL) unlink(opts.attach_socket);
  if (dropped_bytes > 0) diagnostic("dropped %llu bytes of output after log write errors", dropped_bytes);
  if (log_fd >= 0) close(log_fd);
  return result == 0 ? 0 : 1;
}
