/*
 * Container process setup between clone and execve. Runs in a child of a multi-threaded process, so
 * only async-signal-safe calls are used: no malloc, no stdio, no locale. See child.h for the plan.
 *
 * Stage 1 (cloned by the parent without namespace flags): joins namespaces given by path, creates
 * the user namespace (the parent writes its maps), then clones stage 2 with the remaining namespace
 * flags and CLONE_PARENT, reports stage 2's pid and exits. Stage 2 is the container process.
 */
#define _GNU_SOURCE
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef SYS_sched_setattr
#define SYS_sched_setattr 314
#endif
#ifndef SYS_ioprio_set
#define SYS_ioprio_set 251
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

/* ---- tiny async-signal-safe string helpers ---- */

static size_t s_len(const char *s) {
  size_t n = 0;
  while (s[n] != '\0') n++;
  return n;
}

/* Appends src to dst (capacity cap) and returns the new length. */
static size_t s_cat(char *dst, size_t len, size_t cap, const char *src) {
  while (*src != '\0' && len + 1 < cap) dst[len++] = *src++;
  dst[len] = '\0';
  return len;
}

static size_t s_cat_int(char *dst, size_t len, size_t cap, long value) {
  char tmp[24];
  int n = 0;
  unsigned long v = value < 0 ? (unsigned long)(-value) : (unsigned long)value;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0 && n < 22);
  if (value < 0) tmp[n++] = '-';
  while (n > 0 && len + 1 < cap) dst[len++] = tmp[--n];
  dst[len] = '\0';
  return len;
}

static void fd_path(char *buf, size_t cap, int fd) {
  size_t n = s_cat(buf, 0, cap, "/proc/self/fd/");
  s_cat_int(buf, n, cap, fd);
}

/* ---- sync socket ---- */

static int g_sync = -1;
static const char *g_hook_state;

static void send_msg(int type, int value, const char *a, const char *b) {
  struct ock_msg msg;
  memset(&msg, 0, sizeof msg);
  msg.type = type;
  msg.value = value;
  size_t n = 0;
  if (a != NULL) n = s_cat(msg.text, n, sizeof msg.text, a);
  if (b != NULL) n = s_cat(msg.text, n, sizeof msg.text, b);
  (void)n;
  while (send(g_sync, &msg, sizeof msg, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

static int g_ready = 0;

/* Reports "<what><arg>" with the current errno to the parent and exits. Past READY nobody reads
 * the sync socket any more, so the message also goes to the container's stderr. */
static void __attribute__((noreturn)) fail(const char *what, const char *arg) {
  int err = errno;
  send_msg(OCK_MSG_ERROR, err, what, arg);
  if (g_ready) {
    char buf[400];
    size_t n = s_cat(buf, 0, sizeof buf, "ocikit-runtime: container init: ");
    n = s_cat(buf, n, sizeof buf, what);
    if (arg != NULL) n = s_cat(buf, n, sizeof buf, arg);
    n = s_cat(buf, n, sizeof buf, ": errno ");
    n = s_cat_int(buf, n, sizeof buf, err);
    n = s_cat(buf, n, sizeof buf, "\n");
    (void)!write(2, buf, n);
  }
  _exit(1);
}

static void fail_errno(int err, const char *what, const char *arg) __attribute__((noreturn));
static void fail_errno(int err, const char *what, const char *arg) {
  errno = err;
  fail(what, arg);
}

/* Waits for a message of `type` into buf (cap bytes, at least one ock_msg header) and returns its length;
 * a longer packet is cut at cap (SOCK_SEQPACKET). ABORT ends the child quietly. */
static size_t expect_into(void *buf, size_t cap, int type, const char *what) {
  ssize_t n;
  do {
    n = recv(g_sync, buf, cap, 0);
  } while (n < 0 && errno == EINTR);
  if (n < (ssize_t)sizeof(struct ock_msg)) fail_errno(EPIPE, "sync: parent went away while waiting for ", what);
  const struct ock_msg *msg = buf;
  if (msg->type == OCK_MSG_ABORT) _exit(1);
  if (msg->type != type) fail_errno(EPROTO, "sync: unexpected message waiting for ", what);
  return (size_t)n;
}

static void expect(int type, const char *what) {
  struct ock_msg msg;
  expect_into(&msg, sizeof msg, type, what);
}

/* ---- walking inside the rootfs without following symlinks ---- */

/*
 * Opens rel (relative to rootfd) as an O_PATH fd, component by component with O_NOFOLLOW.
 * Missing directories are created; the last component per `create` (0 none, 1 dir, 2 file).
 * A symlink anywhere fails with ELOOP: the parent resolved every link, so one here is a race.
 */
static int walk(int rootfd, const char *rel, int create, unsigned int mode) {
  char comp[256];
  int cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
  if (cur < 0) return -1;
  const char *p = rel;
  while (*p == '/') p++;
  while (*p != '\0') {
    size_t n = 0;
    while (p[n] != '\0' && p[n] != '/') n++;
    if (n >= sizeof comp) {
      close(cur);
      errno = ENAMETOOLONG;
      return -1;
    }
    memcpy(comp, p, n);
    comp[n] = '\0';
    p += n;
    while (*p == '/') p++;
    int last = *p == '\0';
    if (n == 0 || (n == 1 && comp[0] == '.')) continue;
    if (n == 2 && comp[0] == '.' && comp[1] == '.') {
      close(cur);
      errno = EXDEV;
      return -1;
    }
    int next = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT) {
      if (!last || create == 1) {
        if (mkdirat(cur, comp, last ? (mode ? mode : 0755) : 0755) < 0 && errno != EEXIST) {
          close(cur);
          return -1;
        }
      } else if (create == 2) {
        int f = openat(cur, comp, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode ? mode : 0644);
        if (f < 0) {
          close(cur);
          return -1;
        }
        close(f);
      } else {
        close(cur);
        errno = ENOENT;
        return -1;
      }
      next = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    }
    close(cur);
    if (next < 0) return -1;
    struct stat st;
    if (fstat(next, &st) < 0) {
      close(next);
      return -1;
    }
    if (S_ISLNK(st.st_mode)) {
      close(next);
      errno = ELOOP;
      return -1;
    }
    if (!last && !S_ISDIR(st.st_mode)) {
      close(next);
      errno = ENOTDIR;
      return -1;
    }
    cur = next;
  }
  return cur;
}

/* Opens the parent directory of rel and points *name at its last component. */
static int walk_parent(int rootfd, const char *rel, char *parent_buf, size_t cap, const char **name) {
  size_t len = s_len(rel);
  while (len > 0 && rel[len - 1] == '/') len--;
  size_t slash = len;
  while (slash > 0 && rel[slash - 1] != '/') slash--;
  if (slash >= cap) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(parent_buf, rel, slash);
  parent_buf[slash] = '\0';
  *name = rel + slash;
  return walk(rootfd, parent_buf, 1, 0755);
}

/* MS_* flags that a bind remount must keep because the kernel locks them (user namespaces). */
static unsigned long locked_flags(const char *path) {
  struct statvfs sfs;
  unsigned long flags = 0;
  if (statvfs(path, &sfs) != 0) return 0;
  if (sfs.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (sfs.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (sfs.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (sfs.f_flag & ST_RDONLY) flags |= MS_RDONLY;
  return flags;
}

/*
 * Opens the directory holding rel as a real (not O_PATH) directory fd, as the *at calls that create an
 * entry need one, and points *name at the last component. Fails with `escape` (a symlink on the way) or
 * `what` followed by rel.
 */
static int open_parent_dir(int rootfd, const char *rel, const char *escape, const char *what, const char **name) {
  char parent[4096];
  char path[64];
  int dir = walk_parent(rootfd, rel, parent, sizeof parent, name);
  if (dir < 0) fail(errno == ELOOP || errno == EXDEV ? escape : what, rel);
  fd_path(path, sizeof path, dir);
  int real = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  close(dir);
  if (real < 0) fail(what, rel);
  return real;
}

static void run_op(int rootfd, const struct ock_op *op) {
  char path[64];
  const char *name;
  switch (op->kind) {
    case OCK_OP_MKDIR: {
      int fd = walk(rootfd, op->target, 1, op->mode);
      if (fd < 0) fail(errno == ELOOP || errno == EXDEV ? "mount-escape: mkdir " : "mkdir ", op->target);
      close(fd);
      return;
    }
    case OCK_OP_SYMLINK: {
      int real = open_parent_dir(rootfd, op->target, "mount-escape: symlink ", "symlink ", &name);
      if (op->create == 2) (void)unlinkat(real, name, 0);
      if (symlinkat(op->source, real, name) < 0 && errno != EEXIST) fail("symlink ", op->target);
      close(real);
      return;
    }
    case OCK_OP_MKNOD: {
      int real = open_parent_dir(rootfd, op->target, "mount-escape: mknod ", "mknod ", &name);
      (void)unlinkat(real, name, 0);
      if (mknodat(real, name, op->mode, (dev_t)op->dev) < 0) fail("mknod ", op->target);
      if (fchownat(real, name, (uid_t)op->uid, (gid_t)op->gid, AT_SYMLINK_NOFOLLOW) < 0) fail("chown ", op->target);
      close(real);
      return;
    }
    case OCK_OP_MOUNT: {
      int fd = walk(rootfd, op->target, op->create, 0);
      if (fd < 0) fail(errno == ELOOP || errno == EXDEV ? "mount-escape: mount target " : "mount target ", op->target);
      fd_path(path, sizeof path, fd);
      if (mount(op->source, path, op->fstype, op->flags, op->data) < 0) fail("mount ", op->target);
      close(fd);
      if (op->remount_flags == 0 && op->propagation == 0) return;
      /* The old fd names the covered directory: reopen to reach the new mount. */
      fd = walk(rootfd, op->target, 0, 0);
      if (fd < 0) fail("reopen mount ", op->target);
      fd_path(path, sizeof path, fd);
      if (op->remount_flags != 0) {
        unsigned long flags = MS_REMOUNT | MS_BIND | op->remount_flags | locked_flags(path);
        if (!(op->remount_flags & MS_RDONLY)) flags &= ~(unsigned long)MS_RDONLY;
        if (mount(NULL, path, NULL, flags, NULL) < 0) fail("remount ", op->target);
      }
      if (op->propagation != 0 && mount(NULL, path, NULL, op->propagation, NULL) < 0) {
        fail("set propagation of ", op->target);
      }
      close(fd);
      return;
    }
    default:
      fail_errno(EINVAL, "unknown rootfs operation for ", op->target);
  }
}

static void pivot(const struct ock_config *c) {
  if (c->no_pivot) {
    if (chdir(c->rootfs) < 0) fail("chdir ", c->rootfs);
    if (mount(c->rootfs, "/", NULL, MS_MOVE, NULL) < 0) fail("move rootfs to / of ", c->rootfs);
    if (chroot(".") < 0) fail("chroot ", c->rootfs);
    if (chdir("/") < 0) fail("chdir / in ", c->rootfs);
    return;
  }
  /* pivot_root(".", ".") then detach the old root that now sits on top (as runc does). */
  int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (oldroot < 0) fail("open old root", NULL);
  int newroot = open(c->rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (newroot < 0) fail("open rootfs ", c->rootfs);
  if (fchdir(newroot) < 0) fail("chdir ", c->rootfs);
  if (syscall(SYS_pivot_root, ".", ".") < 0) fail("pivot_root ", c->rootfs);
  if (fchdir(oldroot) < 0) fail("chdir old root", NULL);
  if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) fail("make old root rslave", NULL);
  if (umount2(".", MNT_DETACH) < 0) fail("unmount old root", NULL);
  if (chdir("/") < 0) fail("chdir /", NULL);
  close(oldroot);
  close(newroot);
}

static void write_file(const char *path, const char *value) {
  int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) fail("open ", path);
  size_t len = s_len(value);
  if (write(fd, value, len) != (ssize_t)len) fail("write ", path);
  close(fd);
}

static void mask_and_readonly(const struct ock_config *c) {
  for (int i = 0; i < c->n_readonly; i++) {
    const char *p = c->readonly[i];
    if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) {
      if (errno == ENOENT) continue;
      fail("bind readonly path ", p);
    }
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | locked_flags(p);
    if (mount(p, p, NULL, flags, NULL) < 0) fail("remount readonly path ", p);
  }
  for (int i = 0; i < c->n_masked; i++) {
    const char *p = c->masked[i];
    struct stat st;
    if (stat(p, &st) < 0) {
      if (errno == ENOENT) continue;
      fail("stat masked path ", p);
    }
    if (S_ISDIR(st.st_mode)) {
      if (mount("tmpfs", p, "tmpfs", MS_RDONLY, NULL) < 0) fail("mask ", p);
    } else if (mount("/dev/null", p, NULL, MS_BIND, NULL) < 0) {
      fail("mask ", p);
    }
  }
}

static void bring_lo_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) fail("socket for lo", NULL);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, "lo", 3);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) fail("get flags of lo", NULL);
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) fail("bring lo up", NULL);
  close(s);
}

/* Opens a pty in the container, sends the master over the console socket, makes the slave stdio. */
static void setup_console(const struct ock_config *c) {
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) fail("open /dev/ptmx", NULL);
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) fail("unlock pty", NULL);
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) {
    unsigned int num = 0;
    char name[40];
    if (ioctl(master, TIOCGPTN, &num) < 0) fail("get pty number", NULL);
    size_t n = s_cat(name, 0, sizeof name, "/dev/pts/");
    s_cat_int(name, n, sizeof name, (long)num);
    slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) fail("open ", name);
  }
  if (c->console_rows != 0 || c->console_cols != 0) {
    struct winsize ws;
    memset(&ws, 0, sizeof ws);
    ws.ws_row = c->console_rows;
    ws.ws_col = c->console_cols;
    (void)ioctl(master, TIOCSWINSZ, &ws);
  }
  /* SCM_RIGHTS with the master; the runtime keeps no copy. */
  char byte = 'm';
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  memset(&u, 0, sizeof u);
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = u.buf;
  mh.msg_controllen = sizeof u.buf;
  struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &master, sizeof(int));
  if (sendmsg(c->console_fd, &mh, MSG_NOSIGNAL) < 0) fail("send pty master over the console socket", NULL);
  close(master);
  close(c->console_fd);
  for (int fd = 0; fd < 3; fd++) {
    if (dup2(slave, fd) < 0) fail("dup pty to stdio", NULL);
  }
  if (slave > 2) close(slave);
  if (ioctl(0, TIOCSCTTY, 0) < 0) fail("set controlling terminal", NULL);
}

static void apply_caps(const struct ock_config *c) {
  struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  data[0].effective = (uint32_t)c->cap_effective;
  data[1].effective = (uint32_t)(c->cap_effective >> 32);
  data[0].permitted = (uint32_t)c->cap_permitted;
  data[1].permitted = (uint32_t)(c->cap_permitted >> 32);
  data[0].inheritable = (uint32_t)c->cap_inheritable;
  data[1].inheritable = (uint32_t)(c->cap_inheritable >> 32);
  if (syscall(SYS_capset, &hdr, data) < 0) fail("capset", NULL);
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) fail("clear ambient caps", NULL);
  for (int cap = 0; cap <= c->cap_last && cap < 64; cap++) {
    if (c->cap_ambient & (1ULL << cap)) {
      /* Like runc: an ambient capability outside permitted∩inheritable is skipped, not fatal. */
      (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
    }
  }
}

static void drop_bounding(const struct ock_config *c) {
  for (int cap = 0; cap <= c->cap_last && cap < 64; cap++) {
    if (c->cap_bounding & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) fail("drop bounding capability", NULL);
  }
}

static void load_seccomp(const struct ock_config *c) {
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, c->seccomp_flags, &c->seccomp) < 0) fail("load seccomp filter", NULL);
}

/* PATH search over the prepared environment, done before the fifo so a bad command fails create. */
static const char *find_exec(const struct ock_config *c, char *buf, size_t cap) {
  const char *file = c->exec_path;
  for (const char *s = file; *s != '\0'; s++) {
    if (*s == '/') {
      if (access(file, X_OK) < 0) fail("exec: cannot run ", file);
      return file;
    }
  }
  const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (char *const *e = c->envp; e != NULL && *e != NULL; e++) {
    if (strncmp(*e, "PATH=", 5) == 0) {
      path = *e + 5;
      break;
    }
  }
  while (*path != '\0') {
    size_t n = 0;
    while (path[n] != '\0' && path[n] != ':') n++;
    size_t len = 0;
    buf[0] = '\0';
    if (n == 0) {
      len = s_cat(buf, len, cap, ".");
    } else if (n + 1 < cap) {
      memcpy(buf, path, n);
      buf[n] = '\0';
      len = n;
    }
    len = s_cat(buf, len, cap, "/");
    len = s_cat(buf, len, cap, file);
    struct stat st;
    if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0) return buf;
    path += n;
    if (*path == ':') path++;
  }
  fail_errno(ENOENT, "exec: executable file not found in $PATH: ", file);
}

/* Runs the startContainer hooks from inside the container, each with the state on stdin. */
static void run_start_hooks(const struct ock_config *c) {
  for (int i = 0; i < c->n_start_hooks; i++) {
    const struct ock_hook *h = &c->start_hooks[i];
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) fail("pipe for hook ", h->path);
    pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid < 0) fail("fork hook ", h->path);
    if (pid == 0) {
      dup2(p[0], 0);
      execve(h->path, h->argv, h->envp);
      _exit(127);
    }
    close(p[0]);
    const char *state = g_hook_state != NULL ? g_hook_state : c->hook_state;
    size_t len = s_len(state);
    (void)!write(p[1], state, len);
    close(p[1]);
    int status = 0;
    int waited = 0;
    if (h->timeout > 0) {
      for (long ms = 0; ms < (long)h->timeout * 1000; ms += 10) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
          waited = 1;
          break;
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
      }
      if (!waited) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_errno(ETIMEDOUT, "startContainer hook timed out: ", h->path);
      }
    } else {
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail_errno(ECANCELED, "startContainer hook failed: ", h->path);
  }
}

/* GO may carry the state JSON for startContainer hooks after the header (known only after clone). */
static union {
  struct ock_msg msg;
  char raw[sizeof(struct ock_msg) + 65536];
} g_go;

static void expect_go(void) {
  size_t n = expect_into(&g_go, sizeof g_go - 1, OCK_MSG_GO, "go");
  if (n > sizeof(struct ock_msg)) {
    g_go.raw[n] = '\0';
    g_hook_state = g_go.raw + sizeof(struct ock_msg);
  }
}

static void __attribute__((noreturn)) stage2(const struct ock_config *c) {
  expect_go();
  if (c->setsid && setsid() < 0) fail("setsid", NULL);

  if (c->mode == OCK_MODE_INIT) {
    if ((c->clone_flags & CLONE_NEWNET) && c->lo_up) bring_lo_up();
    unsigned long prop = c->rootfs_propagation ? c->rootfs_propagation : (MS_SLAVE | MS_REC);
    if (mount(NULL, "/", NULL, prop, NULL) < 0) fail("set propagation of /", NULL);
    if (mount(c->rootfs, c->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) fail("bind rootfs ", c->rootfs);
    /* Device nodes and mount points get exactly the modes asked for (runc clears the umask too). */
    umask(0);
    int rootfd = open(c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) fail("open rootfs ", c->rootfs);
    for (int i = 0; i < c->n_ops; i++) run_op(rootfd, &c->ops[i]);
    close(rootfd);
    send_msg(OCK_MSG_HOOKS, 0, NULL, NULL);
    expect(OCK_MSG_HOOKS_DONE, "hooks");
    pivot(c);
    for (int i = 0; i < c->n_sysctl; i++) write_file(c->sysctl_paths[i], c->sysctl_values[i]);
    mask_and_readonly(c);
    if (c->hostname != NULL && sethostname(c->hostname, s_len(c->hostname)) < 0) fail("sethostname", NULL);
    if (c->domainname != NULL && setdomainname(c->domainname, s_len(c->domainname)) < 0) fail("setdomainname", NULL);
    if (c->readonly_root) {
      if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags("/"), NULL) < 0) fail("remount / read-only", NULL);
    }
  }

  /* stdio: explicit fds first, then the terminal (which replaces 0..2). */
  for (int fd = 0; fd < 3; fd++) {
    if (c->stdio_fds[fd] >= 0 && c->stdio_fds[fd] != fd && dup2(c->stdio_fds[fd], fd) < 0) fail("dup stdio", NULL);
  }
  if (c->terminal) setup_console(c);
  for (int fd = 0; fd < 3; fd++) {
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK)) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  }

  for (int i = 0; i < c->n_rlimits; i++) {
    if (setrlimit(c->rlimits[i].resource, &c->rlimits[i].limit) < 0) {
      fail(errno == EPERM ? "setrlimit (raising a hard limit needs CAP_SYS_RESOURCE) " : "setrlimit ", NULL);
    }
  }
  if (c->apparmor_profile != NULL) {
    char buf[300];
    size_t n = s_cat(buf, 0, sizeof buf, "exec ");
    s_cat(buf, n, sizeof buf, c->apparmor_profile);
    write_file("/proc/self/attr/exec", buf);
  }
  /* SELinux takes the bare context in the same file (only one major LSM owns it on a given host). */
  if (c->selinux_label != NULL) write_file("/proc/self/attr/exec", c->selinux_label);
  /* Scheduling and I/O priority while still root (raising needs CAP_SYS_NICE / CAP_SYS_ADMIN). */
  if (c->has_scheduler && syscall(SYS_sched_setattr, 0, c->sched_attr, 0) < 0) fail("sched_setattr", NULL);
  if (c->has_ioprio && syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, c->ioprio) < 0) fail("ioprio_set", NULL);
  /* Before seccomp, which may restrict personality(2) arguments. */
  if (c->has_personality && personality(c->personality) < 0) fail("personality", NULL);
  if (c->has_seccomp && !c->no_new_privs) load_seccomp(c);

  if (c->has_caps) drop_bounding(c);
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) fail("keepcaps", NULL);
  if (c->set_groups && setgroups((size_t)c->n_groups, c->groups) < 0) fail("setgroups", NULL);
  if (setresgid((gid_t)c->gid, (gid_t)c->gid, (gid_t)c->gid) < 0) fail("setgid", NULL);
  if (setresuid((uid_t)c->uid, (uid_t)c->uid, (uid_t)c->uid) < 0) fail("setuid", NULL);
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) fail("keepcaps", NULL);
  if (c->has_caps) apply_caps(c);
  umask(c->umask >= 0 ? (mode_t)c->umask : 022);
  if (c->cwd != NULL && chdir(c->cwd) < 0) fail("chdir to cwd ", c->cwd);
  if (c->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail("no_new_privs", NULL);

  char exec_buf[4096];
  const char *exec_file = find_exec(c, exec_buf, sizeof exec_buf);

  /* Everything past the preserved fds must not reach the container process. */
  /* Node marks its own stdio close-on-exec at start-up: the container must keep 0..2 and the
   * preserved fds, so clear the flag on them explicitly. */
  unsigned int first = 3U + (unsigned int)c->preserve_fds;
  for (unsigned int fd = 0; fd < first; fd++) {
    int fl = fcntl((int)fd, F_GETFD);
    if (fl >= 0) (void)fcntl((int)fd, F_SETFD, fl & ~FD_CLOEXEC);
  }
  if (syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
    for (unsigned int fd = first; fd < 4096; fd++) (void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
  }

  send_msg(OCK_MSG_READY, (int)getpid(), NULL, NULL);
  g_ready = 1;
  if (c->exec_fifo_fd >= 0) {
    char path[64];
    fd_path(path, sizeof path, c->exec_fifo_fd);
    int fifo = open(path, O_WRONLY | O_CLOEXEC);
    if (fifo < 0) fail("open exec fifo", NULL);
    if (write(fifo, "0", 1) != 1) fail("write exec fifo", NULL);
    close(fifo);
    close(c->exec_fifo_fd);
  }
  if (c->has_seccomp && c->no_new_privs) load_seccomp(c);
  run_start_hooks(c);
  execve(exec_file, c->argv, c->envp);
  fail("exec ", exec_file);
}

void ock_child_main(const struct ock_config *c) {
  g_sync = c->sync_fd;
  /* Default signal dispositions: the parent's handlers are meaningless here. */
  for (int sig = 1; sig < 65; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    (void)sigaction(sig, &sa, NULL);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);

  for (int i = 0; i < c->n_join; i++) {
    if (setns(c->join_fds[i], c->join_types[i]) < 0) fail("join namespace", NULL);
    close(c->join_fds[i]);
  }
  if (c->new_userns) {
    if (unshare(CLONE_NEWUSER) < 0) fail("unshare user namespace", NULL);
    send_msg(OCK_MSG_USERNS, (int)getpid(), NULL, NULL);
    expect(OCK_MSG_USERNS_DONE, "uid/gid maps");
    if (setresgid(0, 0, 0) < 0) fail("become root gid in the user namespace", NULL);
    if (setresuid(0, 0, 0) < 0) fail("become root uid in the user namespace", NULL);
  }
  /* clone(2) keeps the exit signal in the low byte, where CLONE_NEWTIME would sit: a new time
   * namespace comes from unshare, which applies to the children created afterwards. Its offsets
   * can be written only until the first process enters it, so before the clone. */
  if (c->new_timens) {
    if (unshare(CLONE_NEWTIME) < 0) fail("unshare time namespace", NULL);
    if (c->time_offsets != NULL && c->time_offsets[0] != '\0') write_file("/proc/self/timens_offsets", c->time_offsets);
  }
  pid_t pid = (pid_t)syscall(SYS_clone, (c->clone_flags & ~(unsigned long)CSIGNAL) | CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) fail("clone container process", NULL);
  if (pid == 0) {
    (void)prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
    stage2(c);
  }
  send_msg(OCK_MSG_PID, (int)pid, NULL, NULL);
  _exit(0);
}
