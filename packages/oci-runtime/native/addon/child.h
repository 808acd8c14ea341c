/*
 * The prepared plan a container process runs between clone and execve.
 *
 * Everything here is filled in by the parent (addon.cc, on the Node thread) before the clone; the
 * child code in child.c only reads it and calls async-signal-safe functions (no malloc, no stdio,
 * no locks), because the child of a multi-threaded process may find any lock held.
 */
#ifndef OCIKIT_CHILD_H
#define OCIKIT_CHILD_H

#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <linux/filter.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Kinds of rootfs operations, run in order before pivot_root. Paths are relative to the rootfs and
 * were resolved by the parent (no symlinks left); the child re-walks them with O_NOFOLLOW. */
enum ock_op_kind {
  OCK_OP_MOUNT = 1,   /* mount source on target (creating it as dir or file), then remount/propagation */
  OCK_OP_MKNOD = 2,   /* mknod target with mode/dev, chown uid/gid */
  OCK_OP_SYMLINK = 3, /* symlink target -> source (replacing an existing entry) */
  OCK_OP_MKDIR = 4,   /* mkdir -p target */
};

struct ock_op {
  int kind;
  const char *source;
  const char *target;
  const char *fstype;
  const char *data;
  unsigned long flags;        /* flags of the first mount(2) call */
  unsigned long remount_flags; /* non-zero: MS_REMOUNT|MS_BIND with these after a bind mount */
  unsigned long propagation;  /* non-zero: a further mount(2) with this propagation */
  int create;                 /* 0 none, 1 directory, 2 regular file */
  unsigned int mode;
  unsigned long long dev;
  int uid;
  int gid;
};

struct ock_rlimit {
  int resource;
  struct rlimit limit;
};

struct ock_hook {
  const char *path;
  char *const *argv;
  char *const *envp;
  int timeout; /* seconds, 0 = none */
};

enum ock_mode { OCK_MODE_INIT = 0, OCK_MODE_EXEC = 1 };

struct ock_config {
  int mode;
  int sync_fd;

  /* namespaces */
  int join_fds[8];
  int join_types[8];
  int n_join;
  int new_userns;          /* unshare(CLONE_NEWUSER) in stage 1, then wait for the parent to map */
  unsigned long clone_flags; /* namespaces created by the stage-2 clone (never CLONE_NEWTIME) */
  int new_timens;          /* unshare(CLONE_NEWTIME) in stage 1 so that stage 2 is born in it */
  const char *time_offsets; /* lines for /proc/self/timens_offsets written before the clone, or NULL */
  int lo_up;

  /* rootfs (init only) */
  const char *rootfs;
  unsigned long rootfs_propagation;
  int no_pivot;
  int readonly_root;
  struct ock_op *ops;
  int n_ops;
  const char **masked;
  int n_masked;
  const char **readonly;
  int n_readonly;
  const char **sysctl_paths;
  const char **sysctl_values;
  int n_sysctl;
  const char *hostname;
  const char *domainname;

  /* process */
  struct ock_rlimit *rlimits;
  int n_rlimits;
  int uid;
  int gid;
  gid_t *groups;
  int n_groups;
  int set_groups;
  int umask; /* -1 leaves it */
  int has_caps;
  uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
  int cap_last;
  int no_new_privs;
  int has_seccomp;
  struct sock_fprog seccomp;
  unsigned int seccomp_flags;
  const char *apparmor_profile;
  const char *selinux_label; /* written to /proc/self/attr/exec: the label the execve'd program gets */
  int has_personality;
  unsigned long personality; /* personality(2) domain, set last before execve */
  int has_scheduler;
  unsigned char sched_attr[56]; /* struct sched_attr (SCHED_ATTR_SIZE_VER1) for sched_setattr(2) */
  int has_ioprio;
  int ioprio; /* IOPRIO_PRIO_VALUE(class, level) for ioprio_set(IOPRIO_WHO_PROCESS, 0) */
  const char *cwd;
  const char *exec_path; /* argv[0] or an absolute path; searched in PATH from envp when no '/' */
  char *const *argv;
  char *const *envp;
  int exec_fifo_fd;      /* O_PATH fd of <state>/exec.fifo, -1 none */
  int console_fd;        /* connected --console-socket, -1 none */
  int terminal;
  unsigned short console_rows, console_cols;
  int stdio_fds[3];      /* -1 keeps what the process has */
  int preserve_fds;
  int setsid;
  struct ock_hook *start_hooks;
  int n_start_hooks;
  const char *hook_state;  /* JSON given to startContainer hooks on stdin */
};

/* Messages over the SOCK_SEQPACKET sync socket, one struct per packet. */
enum ock_msg_type {
  OCK_MSG_USERNS = 1,      /* child -> parent: write my uid/gid maps */
  OCK_MSG_USERNS_DONE = 2, /* parent -> child */
  OCK_MSG_PID = 3,         /* child -> parent: value = pid of the container process (stage 2) */
  OCK_MSG_GO = 4,          /* parent -> child: cgroup joined, go on */
  OCK_MSG_HOOKS = 5,       /* child -> parent: mounts done, run prestart/createRuntime hooks */
  OCK_MSG_HOOKS_DONE = 6,  /* parent -> child */
  OCK_MSG_READY = 7,       /* child -> parent: about to wait on the exec fifo (or to execve) */
  OCK_MSG_ERROR = 8,       /* child -> parent: value = errno, text = what failed */
  OCK_MSG_ABORT = 9,       /* parent -> child: give up */
};

struct ock_msg {
  int32_t type;
  int32_t value;
  char text[248];
};

/* Runs stage 1 in the freshly cloned child: never returns. */
void ock_child_main(const struct ock_config *config) __attribute__((noreturn));

#ifdef __cplusplus
}
#endif

#endif
