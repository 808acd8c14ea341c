/*
 * The container's cgroup v1 directories, resolved as src/cgroups/v1.ts does (mountinfo, absolute
 * cgroupsPath only), its freezer state, and its removal. Anything unusual returns FALLBACK.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "front-end.h"

static const char *const v1_controllers[] = {"cpuset", "cpu", "cpuacct", "blkio", "memory",
                                             "devices", "freezer", "net_cls", "perf_event",
                                             "net_prio", "hugetlb", "pids", "rdma", "misc"};

static int known_controller(const char *name, size_t n) {
  if (n >= 5 && memcmp(name, "name=", 5) == 0) return 1; /* startsWith('name=') */
  for (size_t i = 0; i < sizeof v1_controllers / sizeof v1_controllers[0]; i++)
    if (strlen(v1_controllers[i]) == n && memcmp(v1_controllers[i], name, n) == 0) return 1;
  return 0;
}

/* True for an absolute path posix.resolve leaves as it is (no //, /./, /../, trailing /). */
static int normalised(const char *path) {
  if (path[0] != '/') return 0;
  if (strcmp(path, "/") == 0) return 1;
  size_t n = strlen(path);
  if (path[n - 1] == '/') return 0;
  for (const char *p = path; *p != '\0'; p++) {
    if (*p != '/') continue;
    const char *next = p + 1;
    if (*next == '/') return 0;
    if (next[0] == '.' && (next[1] == '/' || next[1] == '\0')) return 0;
    if (next[0] == '.' && next[1] == '.' && (next[2] == '/' || next[2] == '\0')) return 0;
  }
  return 1;
}

/* isWithin(path, base) of mountinfo.ts. */
static int is_within(const char *path, const char *base) {
  if (strcmp(base, "/") == 0) return path[0] == '/';
  size_t n = strlen(base);
  return strncmp(path, base, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static int compare_names(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The sorted controller list, the hierarchy's identity for de-duplication. */
static void sorted_key(const char *controllers, char *out, size_t size) {
  char copy[256];
  const char *names[64];
  int count = 0;
  snprintf(copy, sizeof copy, "%s", controllers);
  for (char *save = NULL, *t = strtok_r(copy, ",", &save); t != NULL && count < 64;
       t = strtok_r(NULL, ",", &save))
    names[count++] = t;
  qsort(names, (size_t)count, sizeof names[0], compare_names);
  out[0] = '\0';
  for (int i = 0; i < count; i++) {
    if (i > 0) strncat(out, ",", size - strlen(out) - 1);
    strncat(out, names[i], size - strlen(out) - 1);
  }
}

int cgroup_v1_hierarchies(const char *cgroup_root, const char *path, struct hierarchy *out, int max) {
  if (!normalised(cgroup_root) || !normalised(path) || strcmp(path, "/") == 0) return FALLBACK;
  /* detectCgroupVersionSync: a cgroup2 root is v2, which this front end leaves to Node. */
  char probe[4200];
  snprintf(probe, sizeof probe, "%s/cgroup.controllers", strcmp(cgroup_root, "/") == 0 ? "" : cgroup_root);
  if (access(probe, F_OK) == 0) return FALLBACK;
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (f == NULL) return FALLBACK;
  char keys[MAX_HIERARCHIES][256];
  int count = 0;
  char *line = NULL;
  size_t cap = 0;
  int result = 0;
  while (getline(&line, &cap, f) > 0) {
    line[strcspn(line, "\n")] = '\0';
    char *fields[64];
    int n = 0;
    for (char *p = line; n < 64;) {
      fields[n++] = p;
      char *space = strchr(p, ' ');
      if (space == NULL) break;
      *space = '\0';
      p = space + 1;
    }
    int sep = -1;
    for (int i = 0; i < n; i++)
      if (strcmp(fields[i], "-") == 0) {
        sep = i;
        break;
      }
    if (sep < 6 || sep + 1 >= n) continue;
    if (strcmp(fields[sep + 1], "cgroup") != 0) continue;
    const char *options = sep + 3 < n ? fields[sep + 3] : "";
    char controllers[256] = "";
    for (const char *p = options; *p != '\0';) {
      size_t len = strcspn(p, ",");
      if (known_controller(p, len)) {
        if (strlen(controllers) + len + 2 > sizeof controllers) {
          result = FALLBACK;
          break;
        }
        if (controllers[0] != '\0') strcat(controllers, ",");
        strncat(controllers, p, len);
      }
      p += len;
      if (*p == ',') p++;
    }
    if (result != 0) break;
    if (controllers[0] == '\0') continue;
    const char *mountpoint = fields[4], *mount_root = fields[3];
    if (strchr(mountpoint, '\\') != NULL || strchr(mount_root, '\\') != NULL) {
      result = FALLBACK; /* octal escapes: leave them to Node */
      break;
    }
    if (!is_within(mountpoint, cgroup_root) || strcmp(mountpoint, cgroup_root) == 0) continue;
    char key[256];
    sorted_key(controllers, key, sizeof key);
    int seen = 0;
    for (int i = 0; i < count; i++)
      if (strcmp(keys[i], key) == 0) seen = 1;
    if (seen) continue;
    if (count >= max || count >= MAX_HIERARCHIES || !normalised(mountpoint) || !normalised(mount_root)) {
      result = FALLBACK;
      break;
    }
    /* A cgroup that is the hierarchy root is an error in TS: Node reports it. */
    if (strcmp(path, mount_root) == 0) {
      result = FALLBACK;
      break;
    }
    /* cgroupDirectory(mountpoint, mountRoot, cgroup). */
    const char *inside = is_within(path, mount_root)
                             ? path + (strcmp(mount_root, "/") == 0 ? 0 : strlen(mount_root))
                             : path;
    if ((size_t)snprintf(out[count].directory, sizeof out[count].directory, "%s%s", mountpoint,
                         inside) >= sizeof out[count].directory) {
      result = FALLBACK;
      break;
    }
    snprintf(out[count].controllers, sizeof out[count].controllers, "%s", controllers);
    snprintf(keys[count], sizeof keys[count], "%s", key);
    count++;
  }
  free(line);
  fclose(f);
  if (result != 0) return result;
  /* No cgroup mount under the root (a fixture tree): Node looks at its directories. */
  return count == 0 ? FALLBACK : count;
}

static int has_controller(const char *list, const char *name) {
  size_t n = strlen(name);
  for (const char *p = list; *p != '\0';) {
    size_t len = strcspn(p, ",");
    if (len == n && memcmp(p, name, n) == 0) return 1;
    p += len;
    if (*p == ',') p++;
  }
  return 0;
}

int cgroup_v1_paused(const struct hierarchy *h, int count) {
  for (int i = 0; i < count; i++) {
    if (!has_controller(h[i].controllers, "freezer")) continue;
    char file[4200], state[64];
    snprintf(file, sizeof file, "%s/freezer.state", h[i].directory);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0; /* status() treats a failing freezer read as running */
    ssize_t got = read(fd, state, sizeof state - 1);
    close(fd);
    if (got < 0) return 0;
    state[got] = '\0';
    /* trim() */
    char *start = state;
    while (*start == ' ' || *start == '\n' || *start == '\t' || *start == '\r') start++;
    size_t len = strlen(start);
    while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\n' || start[len - 1] == '\t' ||
                       start[len - 1] == '\r'))
      start[--len] = '\0';
    return strcmp(start, "FROZEN") == 0 || strcmp(start, "FREEZING") == 0;
  }
  return 0; /* no freezer hierarchy: cannot be paused */
}

static void pause_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* removeTree: children first, then rmdir, EBUSY retried with a growing pause for about 10 s. */
static int remove_tree(const char *directory, int depth) {
  if (depth > 32) return FALLBACK;
  DIR *dir = opendir(directory);
  if (dir == NULL) {
    if (errno == ENOENT) return 0;
    return FALLBACK;
  }
  struct dirent *entry;
  int result = 0;
  while (result == 0 && (entry = readdir(dir)) != NULL) {
    if (entry->d_type != DT_DIR) continue; /* cgroupfs fills d_type */
    if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
    char child[4200];
    if ((size_t)snprintf(child, sizeof child, "%s/%s", directory, entry->d_name) >= sizeof child) {
      result = FALLBACK;
      break;
    }
    result = remove_tree(child, depth + 1);
  }
  closedir(dir);
  if (result != 0) return result;
  long deadline = now_ms() + 10000;
  int pause = 5;
  for (;;) {
    if (rmdir(directory) == 0 || errno == ENOENT) return 0;
    if (errno != EBUSY || now_ms() > deadline) return FALLBACK;
    pause_ms(pause);
    pause = pause * 2 > 100 ? 100 : pause * 2;
  }
}

int cgroup_v1_destroy(const struct hierarchy *h, int count) {
  for (int i = 0; i < count; i++)
    if (remove_tree(h[i].directory, 0) != 0) return FALLBACK;
  return 0;
}
