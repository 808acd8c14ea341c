// Node-API surface of the ocikit runtime addon: the calls Node cannot make. The parent side builds an
// ock_config from a plain JS object (everything resolved in TypeScript), clones, and hands the sync
// socket back; blocking waits run on the libuv thread pool through AsyncWorker.
#include <napi.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <deque>
#include <initializer_list>
#include <string>
#include <vector>

#include "child.h"

namespace {

// Owns every buffer the plan points to until the clone has copied the address space.
struct Arena {
  std::deque<std::string> strings;
  std::deque<std::vector<char *>> arrays;
  std::deque<std::vector<const char *>> const_arrays;
  std::vector<ock_op> ops;
  std::vector<ock_rlimit> rlimits;
  std::vector<ock_hook> hooks;
  std::vector<gid_t> groups;
  std::vector<sock_filter> filter;

  const char *str(const std::string &s) {
    strings.push_back(s);
    return strings.back().c_str();
  }
};

Napi::Error errnoError(Napi::Env env, const std::string &what, int err) {
  Napi::Error e = Napi::Error::New(env, what + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, what));
  return e;
}

// A blocking call run on the libuv thread pool that settles a promise: Execute() sets err_ (an errno)
// on failure, Resolve() builds the value on the JS thread; `what` names the call in the rejection.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, const char *what) : Napi::AsyncWorker(env), what_(what), deferred_(Napi::Promise::Deferred::New(env)) {}
  void OnOK() override {
    if (err_ != 0) {
      deferred_.Reject(errnoError(Env(), what_, err_).Value());
      return;
    }
    deferred_.Resolve(Resolve(Env()));
  }
  void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

  // Queues a worker built from the fd or pid in the call's first argument and returns its promise.
  template <typename Worker>
  static Napi::Value Start(const Napi::CallbackInfo &info) {
    auto *w = new Worker(info.Env(), info[0].As<Napi::Number>().Int32Value());
    Napi::Promise p = w->deferred_.Promise();
    w->Queue();
    return p;
  }

 protected:
  virtual Napi::Value Resolve(Napi::Env env) = 0;
  int err_ = 0;

 private:
  const char *what_;
  Napi::Promise::Deferred deferred_;
};

bool has(const Napi::Object &o, const char *key) {
  if (!o.Has(key)) return false;
  Napi::Value v = o.Get(key);
  return !v.IsUndefined() && !v.IsNull();
}

const char *optStr(Arena &a, const Napi::Object &o, const char *key) {
  if (!has(o, key)) return nullptr;
  return a.str(o.Get(key).As<Napi::String>().Utf8Value());
}

int64_t optInt(const Napi::Object &o, const char *key, int64_t def) {
  if (!has(o, key)) return def;
  Napi::Value v = o.Get(key);
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  return v.As<Napi::Number>().Int64Value();
}

uint64_t optU64(const Napi::Object &o, const char *key) {
  if (!has(o, key)) return 0;
  Napi::Value v = o.Get(key);
  if (v.IsBigInt()) {
    bool lossless = true;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return static_cast<uint64_t>(v.As<Napi::Number>().Int64Value());
}

char *const *strArray(Arena &a, const Napi::Object &o, const char *key) {
  if (!has(o, key)) return nullptr;
  Napi::Array arr = o.Get(key).As<Napi::Array>();
  a.arrays.emplace_back();
  std::vector<char *> &v = a.arrays.back();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    v.push_back(const_cast<char *>(a.str(arr.Get(i).As<Napi::String>().Utf8Value())));
  }
  v.push_back(nullptr);
  return v.data();
}

const char **constStrArray(Arena &a, const Napi::Object &o, const char *key, int *count) {
  *count = 0;
  if (!has(o, key)) return nullptr;
  Napi::Array arr = o.Get(key).As<Napi::Array>();
  a.const_arrays.emplace_back();
  std::vector<const char *> &v = a.const_arrays.back();
  for (uint32_t i = 0; i < arr.Length(); i++) v.push_back(a.str(arr.Get(i).As<Napi::String>().Utf8Value()));
  *count = static_cast<int>(v.size());
  v.push_back(nullptr);
  return v.data();
}

void fillConfig(Arena &a, const Napi::Object &o, ock_config &c) {
  memset(&c, 0, sizeof c);
  c.mode = static_cast<int>(optInt(o, "mode", OCK_MODE_INIT));
  if (has(o, "join")) {
    Napi::Array join = o.Get("join").As<Napi::Array>();
    if (join.Length() > 8) throw Napi::Error::New(o.Env(), "too many namespaces to join");
    for (uint32_t i = 0; i < join.Length(); i++) {
      Napi::Object j = join.Get(i).As<Napi::Object>();
      c.join_fds[i] = static_cast<int>(optInt(j, "fd", -1));
      c.join_types[i] = static_cast<int>(optInt(j, "type", 0));
    }
    c.n_join = static_cast<int>(join.Length());
  }
  c.new_userns = static_cast<int>(optInt(o, "newUserns", 0));
  c.clone_flags = static_cast<unsigned long>(optInt(o, "cloneFlags", 0));
  // CLONE_NEWTIME shares its bit with clone(2)'s exit signal: it travels as its own field.
  c.new_timens = (optInt(o, "newTimeNamespace", 0) != 0 || (c.clone_flags & 0x80) != 0) ? 1 : 0;
  c.clone_flags &= ~0xffUL;
  c.time_offsets = optStr(a, o, "timeOffsets");
  c.lo_up = static_cast<int>(optInt(o, "loopbackUp", 1));
  c.rootfs = optStr(a, o, "rootfs");
  c.rootfs_propagation = static_cast<unsigned long>(optInt(o, "rootfsPropagation", 0));
  c.no_pivot = static_cast<int>(optInt(o, "noPivot", 0));
  c.readonly_root = static_cast<int>(optInt(o, "readonlyRoot", 0));
  if (has(o, "ops")) {
    Napi::Array ops = o.Get("ops").As<Napi::Array>();
    a.ops.resize(ops.Length());
    for (uint32_t i = 0; i < ops.Length(); i++) {
      Napi::Object j = ops.Get(i).As<Napi::Object>();
      ock_op &op = a.ops[i];
      memset(&op, 0, sizeof op);
      op.kind = static_cast<int>(optInt(j, "kind", 0));
      op.source = optStr(a, j, "source");
      op.target = optStr(a, j, "target");
      if (op.target == nullptr) op.target = a.str("");
      op.fstype = optStr(a, j, "fstype");
      op.data = optStr(a, j, "data");
      op.flags = static_cast<unsigned long>(optInt(j, "flags", 0));
      op.remount_flags = static_cast<unsigned long>(optInt(j, "remountFlags", 0));
      op.propagation = static_cast<unsigned long>(optInt(j, "propagation", 0));
      op.create = static_cast<int>(optInt(j, "create", 0));
      op.mode = static_cast<unsigned int>(optInt(j, "mode", 0));
      op.dev = static_cast<unsigned long long>(optInt(j, "dev", 0));
      op.uid = static_cast<int>(optInt(j, "uid", 0));
      op.gid = static_cast<int>(optInt(j, "gid", 0));
    }
    c.ops = a.ops.data();
    c.n_ops = static_cast<int>(a.ops.size());
  }
  c.masked = constStrArray(a, o, "maskedPaths", &c.n_masked);
  c.readonly = constStrArray(a, o, "readonlyPaths", &c.n_readonly);
  int n_values = 0;
  c.sysctl_paths = constStrArray(a, o, "sysctlPaths", &c.n_sysctl);
  c.sysctl_values = constStrArray(a, o, "sysctlValues", &n_values);
  if (n_values != c.n_sysctl) throw Napi::Error::New(o.Env(), "sysctl paths and values differ in length");
  c.hostname = optStr(a, o, "hostname");
  c.domainname = optStr(a, o, "domainname");
  if (has(o, "rlimits")) {
    Napi::Array rl = o.Get("rlimits").As<Napi::Array>();
    a.rlimits.resize(rl.Length());
    for (uint32_t i = 0; i < rl.Length(); i++) {
      Napi::Object j = rl.Get(i).As<Napi::Object>();
      a.rlimits[i].resource = static_cast<int>(optInt(j, "resource", 0));
      a.rlimits[i].limit.rlim_cur = static_cast<rlim_t>(optU64(j, "soft"));
      a.rlimits[i].limit.rlim_max = static_cast<rlim_t>(optU64(j, "hard"));
    }
    c.rlimits = a.rlimits.data();
    c.n_rlimits = static_cast<int>(a.rlimits.size());
  }
  c.uid = static_cast<int>(optInt(o, "uid", 0));
  c.gid = static_cast<int>(optInt(o, "gid", 0));
  c.set_groups = has(o, "groups") ? 1 : 0;
  if (c.set_groups) {
    Napi::Array g = o.Get("groups").As<Napi::Array>();
    for (uint32_t i = 0; i < g.Length(); i++) a.groups.push_back(static_cast<gid_t>(g.Get(i).As<Napi::Number>().Uint32Value()));
    c.groups = a.groups.data();
    c.n_groups = static_cast<int>(a.groups.size());
  }
  c.umask = static_cast<int>(optInt(o, "umask", -1));
  c.has_caps = has(o, "capabilities") ? 1 : 0;
  if (c.has_caps) {
    Napi::Object caps = o.Get("capabilities").As<Napi::Object>();
    c.cap_bounding = optU64(caps, "bounding");
    c.cap_effective = optU64(caps, "effective");
    c.cap_permitted = optU64(caps, "permitted");
    c.cap_inheritable = optU64(caps, "inheritable");
    c.cap_ambient = optU64(caps, "ambient");
    c.cap_last = static_cast<int>(optInt(caps, "last", 40));
  }
  c.no_new_privs = static_cast<int>(optInt(o, "noNewPrivileges", 0));
  if (has(o, "seccomp")) {
    Napi::Object s = o.Get("seccomp").As<Napi::Object>();
    Napi::Buffer<uint8_t> prog = s.Get("program").As<Napi::Buffer<uint8_t>>();
    if (prog.Length() % sizeof(sock_filter) != 0 || prog.Length() == 0) {
      throw Napi::Error::New(o.Env(), "seccomp program length is not a multiple of 8");
    }
    a.filter.resize(prog.Length() / sizeof(sock_filter));
    memcpy(a.filter.data(), prog.Data(), prog.Length());
    c.has_seccomp = 1;
    c.seccomp.len = static_cast<unsigned short>(a.filter.size());
    c.seccomp.filter = a.filter.data();
    c.seccomp_flags = static_cast<unsigned int>(optInt(s, "flags", 0));
  }
  c.apparmor_profile = optStr(a, o, "apparmorProfile");
  c.selinux_label = optStr(a, o, "selinuxLabel");
  c.has_personality = has(o, "personality") ? 1 : 0;
  c.personality = static_cast<unsigned long>(optInt(o, "personality", 0));
  if (has(o, "schedulerAttributes")) {
    Napi::Buffer<uint8_t> attr = o.Get("schedulerAttributes").As<Napi::Buffer<uint8_t>>();
    if (attr.Length() < 48 || attr.Length() > sizeof c.sched_attr) {
      throw Napi::Error::New(o.Env(), "schedulerAttributes must be a struct sched_attr of 48 to 56 bytes");
    }
    memcpy(c.sched_attr, attr.Data(), attr.Length());
    c.has_scheduler = 1;
  }
  c.has_ioprio = has(o, "ioPriority") ? 1 : 0;
  c.ioprio = static_cast<int>(optInt(o, "ioPriority", 0));
  c.cwd = optStr(a, o, "cwd");
  c.argv = strArray(a, o, "args");
  if (c.argv == nullptr || c.argv[0] == nullptr) throw Napi::Error::New(o.Env(), "args must not be empty");
  c.exec_path = c.argv[0];
  c.envp = strArray(a, o, "env");
  if (c.envp == nullptr) {
    a.arrays.emplace_back(1, nullptr);
    c.envp = a.arrays.back().data();
  }
  c.exec_fifo_fd = static_cast<int>(optInt(o, "execFifoFd", -1));
  c.console_fd = static_cast<int>(optInt(o, "consoleFd", -1));
  c.terminal = static_cast<int>(optInt(o, "terminal", 0));
  c.console_rows = static_cast<unsigned short>(optInt(o, "consoleRows", 0));
  c.console_cols = static_cast<unsigned short>(optInt(o, "consoleCols", 0));
  if (c.terminal && c.console_fd < 0) throw Napi::Error::New(o.Env(), "terminal needs a console socket fd");
  for (int i = 0; i < 3; i++) c.stdio_fds[i] = -1;
  if (has(o, "stdio")) {
    Napi::Array s = o.Get("stdio").As<Napi::Array>();
    for (uint32_t i = 0; i < s.Length() && i < 3; i++) {
      Napi::Value v = s.Get(i);
      c.stdio_fds[i] = v.IsNumber() ? v.As<Napi::Number>().Int32Value() : -1;
    }
  }
  c.preserve_fds = static_cast<int>(optInt(o, "preserveFds", 0));
  c.setsid = static_cast<int>(optInt(o, "setsid", 1));
  if (has(o, "startHooks")) {
    Napi::Array hs = o.Get("startHooks").As<Napi::Array>();
    a.hooks.resize(hs.Length());
    for (uint32_t i = 0; i < hs.Length(); i++) {
      Napi::Object h = hs.Get(i).As<Napi::Object>();
      a.hooks[i].path = optStr(a, h, "path");
      a.hooks[i].argv = strArray(a, h, "args");
      if (a.hooks[i].argv == nullptr) {
        a.arrays.emplace_back(std::vector<char *>{const_cast<char *>(a.hooks[i].path), nullptr});
        a.hooks[i].argv = a.arrays.back().data();
      }
      a.hooks[i].envp = strArray(a, h, "env");
      if (a.hooks[i].envp == nullptr) {
        a.arrays.emplace_back(1, nullptr);
        a.hooks[i].envp = a.arrays.back().data();
      }
      a.hooks[i].timeout = static_cast<int>(optInt(h, "timeout", 0));
    }
    c.start_hooks = a.hooks.data();
    c.n_start_hooks = static_cast<int>(a.hooks.size());
  }
  c.hook_state = optStr(a, o, "hookState");
  if (c.hook_state == nullptr) c.hook_state = a.str("");
}

// A raw clone without namespace flags: fork()'s atfork handlers could wait on locks other threads hold.
long rawFork() { return syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); }

// Clones stage 1 of the container process, which talks on sync[1]; returns its pid (or -1) in the parent.
long cloneStage1(ock_config &config, const int sync[2]) {
  config.sync_fd = sync[1];
  long pid = rawFork();
  if (pid == 0) {
    close(sync[0]);
    ock_child_main(&config);
  }
  return pid;
}

// spawn(plan) -> { pid, syncFd }: clones stage 1 of the container process.
Napi::Value Spawn(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Arena arena;
  ock_config config;
  fillConfig(arena, info[0].As<Napi::Object>(), config);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) throw errnoError(env, "socketpair", errno);
  long pid = cloneStage1(config, sv);
  if (pid < 0) {
    int err = errno;
    close(sv[0]);
    close(sv[1]);
    throw errnoError(env, "clone", err);
  }
  close(sv[1]);
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, static_cast<double>(pid)));
  out.Set("syncFd", Napi::Number::New(env, sv[0]));
  return out;
}

// Decimal text of a non-negative value; async-signal-safe (used between fork and execve).
size_t formatDecimal(char *out, long value) {
  char digits[24];
  size_t n = 0;
  unsigned long v = value < 0 ? 0UL : static_cast<unsigned long>(value);
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (size_t i = 0; i < n; i++) out[i] = digits[n - 1 - i];
  return n;
}

void closeAll(std::initializer_list<int> fds) {
  for (int fd : fds) {
    if (fd >= 0) close(fd);
  }
}

// spawnMonitored(plan, binary, args, keepStdin) -> { pid, syncFd, monitorPid, adoptFd, reportFd }:
// a create whose container belongs to `ocikit-monitor` from the start, without a second runtime process.
// Node forks a child that forks again and exits (so the monitor is nobody's child here); the grandchild
// takes its own session, becomes a child subreaper, clones stage 1 (whose stage 2 is cloned with
// CLONE_PARENT, so both are its children), reports "<stage1 pid> <own pid>\n" on the report pipe and
// execs the monitor in adopt mode, which keeps those children. Between fork and execve only system calls
// run. The container's stdout/stderr (and stdin) are pipes whose other ends the monitor owns; Node drives
// the sync protocol on syncFd as for spawn(), writes the init's pid to adoptFd when the container exists
// (or closes it without a word when creation failed), and reads the monitor's one-line JSON answer on
// reportFd.
Napi::Value SpawnMonitored(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Arena arena;
  ock_config config;
  fillConfig(arena, info[0].As<Napi::Object>(), config);
  std::string binary = info[1].As<Napi::String>().Utf8Value();
  Napi::Array given = info[2].As<Napi::Array>();
  bool keepStdin = info[3].ToBoolean().Value();

  int sv[2] = {-1, -1}, adopt[2] = {-1, -1}, report[2] = {-1, -1};
  int out[2] = {-1, -1}, err[2] = {-1, -1}, in[2] = {-1, -1};
  int devnull = -1;
  bool ok = socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0 && pipe2(adopt, O_CLOEXEC) == 0 &&
            pipe2(report, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0 &&
            (keepStdin ? pipe2(in, O_CLOEXEC) == 0 : (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0);
  int saved = errno;
  auto closeEverything = [&]() {
    closeAll({sv[0], sv[1], adopt[0], adopt[1], report[0], report[1], out[0], out[1], err[0], err[1], in[0],
              in[1], devnull});
  };
  if (!ok) {
    closeEverything();
    throw errnoError(env, "spawn monitored: pipes", saved);
  }
  config.stdio_fds[0] = keepStdin ? in[0] : devnull;
  config.stdio_fds[1] = out[1];
  config.stdio_fds[2] = err[1];

  std::vector<std::string> words;
  words.push_back(binary);
  for (uint32_t i = 0; i < given.Length(); i++) words.push_back(given.Get(i).As<Napi::String>().Utf8Value());
  auto fdOption = [&](const char *name, int fd) {
    words.push_back(name);
    words.push_back(std::to_string(fd));
  };
  fdOption("--adopt-fd", adopt[0]);
  fdOption("--stdout-fd", out[0]);
  fdOption("--stderr-fd", err[0]);
  if (keepStdin) fdOption("--stdin-fd", in[1]);
  fdOption("--sync-fd", report[1]);
  std::vector<char *> argv;
  for (std::string &word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  const int keep[] = {adopt[0], out[0], err[0], in[1], report[1]};

  pid_t first = static_cast<pid_t>(rawFork());
  if (first < 0) {
    saved = errno;
    closeEverything();
    throw errnoError(env, "spawn monitored: fork", saved);
  }
  if (first == 0) {
    pid_t monitor = static_cast<pid_t>(rawFork());
    if (monitor != 0) _exit(monitor < 0 ? 1 : 0);
    (void)setsid();
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) _exit(1);
    // Node's ends: the container must not hold them while it waits on the exec fifo.
    close(adopt[1]);
    close(report[0]);
    long stage1 = cloneStage1(config, sv);
    char line[64];
    size_t n = formatDecimal(line, stage1);
    line[n++] = ' ';
    n += formatDecimal(line + n, static_cast<long>(getpid()));
    line[n++] = '\n';
    if (stage1 < 0 || write(report[1], line, n) != static_cast<ssize_t>(n)) _exit(1);
    for (int fd : keep) {
      if (fd >= 0) (void)fcntl(fd, F_SETFD, 0);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  // Our copies: only the sync socket, the adopt writer and the report reader stay here.
  closeAll({sv[1], adopt[0], report[1], out[0], out[1], err[0], err[1], in[0], in[1], devnull});
  int status = 0;
  while (waitpid(first, &status, 0) < 0 && errno == EINTR) {
  }
  // The grandchild writes its line right after the clone: a short blocking read.
  char text[64];
  size_t length = 0;
  while (length < sizeof text - 1) {
    ssize_t got = read(report[0], text + length, sizeof text - 1 - length);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    length += static_cast<size_t>(got);
    if (memchr(text, '\n', length) != nullptr) break;
  }
  text[length] = '\0';
  long stage1 = 0, monitorPid = 0;
  if (sscanf(text, "%ld %ld", &stage1, &monitorPid) != 2 || stage1 <= 0 || monitorPid <= 0) {
    closeAll({sv[0], adopt[1], report[0]});
    throw errnoError(env, "spawn monitored: the monitor's process did not start the container", ECHILD);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, static_cast<double>(stage1)));
  result.Set("syncFd", Napi::Number::New(env, sv[0]));
  result.Set("monitorPid", Napi::Number::New(env, static_cast<double>(monitorPid)));
  result.Set("adoptFd", Napi::Number::New(env, adopt[1]));
  result.Set("reportFd", Napi::Number::New(env, report[0]));
  return result;
}

class RecvWorker : public PromiseWorker {
 public:
  RecvWorker(Napi::Env env, int fd) : PromiseWorker(env, "recv sync"), fd_(fd) {}
  void Execute() override {
    memset(&msg_, 0, sizeof msg_);
    for (;;) {
      ssize_t n = recv(fd_, &msg_, sizeof msg_, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        err_ = errno;
        return;
      }
      eof_ = n == 0;
      if (!eof_ && n != static_cast<ssize_t>(sizeof msg_)) err_ = EPROTO;
      return;
    }
  }

 protected:
  Napi::Value Resolve(Napi::Env env) override {
    if (eof_) return env.Null();
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", Napi::Number::New(env, msg_.type));
    o.Set("value", Napi::Number::New(env, msg_.value));
    msg_.text[sizeof msg_.text - 1] = '\0';
    o.Set("text", Napi::String::New(env, msg_.text));
    return o;
  }

 private:
  int fd_;
  ock_msg msg_{};
  bool eof_ = false;
};

// syncRecv(fd) -> Promise<{type, value, text} | null>; null at end of stream.
Napi::Value SyncRecv(const Napi::CallbackInfo &info) { return PromiseWorker::Start<RecvWorker>(info); }

// syncSend(fd, type, value, text?): one message to the child; text (up to 64 KiB) follows the header.
Napi::Value SyncSend(const Napi::CallbackInfo &info) {
  ock_msg msg;
  memset(&msg, 0, sizeof msg);
  msg.type = info[1].As<Napi::Number>().Int32Value();
  msg.value = info.Length() > 2 ? info[2].As<Napi::Number>().Int32Value() : 0;
  std::string packet(reinterpret_cast<const char *>(&msg), sizeof msg);
  if (info.Length() > 3 && info[3].IsString()) packet += info[3].As<Napi::String>().Utf8Value();
  if (send(info[0].As<Napi::Number>().Int32Value(), packet.data(), packet.size(), MSG_NOSIGNAL) < 0) {
    throw errnoError(info.Env(), "send sync", errno);
  }
  return info.Env().Undefined();
}

Napi::Object statusObject(Napi::Env env, int status) {
  Napi::Object o = Napi::Object::New(env);
  if (WIFEXITED(status)) {
    o.Set("exitCode", Napi::Number::New(env, WEXITSTATUS(status)));
    o.Set("signal", env.Null());
  } else {
    o.Set("exitCode", env.Null());
    o.Set("signal", Napi::Number::New(env, WIFSIGNALED(status) ? WTERMSIG(status) : 0));
  }
  return o;
}

class WaitWorker : public PromiseWorker {
 public:
  WaitWorker(Napi::Env env, int pid) : PromiseWorker(env, "waitpid"), pid_(pid) {}
  void Execute() override {
    for (;;) {
      pid_t r = waitpid(pid_, &status_, __WALL);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) err_ = errno;
      return;
    }
  }

 protected:
  Napi::Value Resolve(Napi::Env env) override { return statusObject(env, status_); }

 private:
  int pid_;
  int status_ = 0;
};

// waitPid(pid) -> Promise<{exitCode, signal}>: blocking waitpid on the thread pool.
Napi::Value WaitPid(const Napi::CallbackInfo &info) { return PromiseWorker::Start<WaitWorker>(info); }

// tryWaitPid(pid) -> {exitCode, signal} | null (still running); throws ECHILD for a non-child.
Napi::Value TryWaitPid(const Napi::CallbackInfo &info) {
  int status = 0;
  pid_t r = waitpid(info[0].As<Napi::Number>().Int32Value(), &status, WNOHANG | __WALL);
  if (r < 0) throw errnoError(info.Env(), "waitpid", errno);
  if (r == 0) return info.Env().Null();
  return statusObject(info.Env(), status);
}

// openFd(path, flags, mode?) -> fd (O_CLOEXEC is always added).
Napi::Value OpenFd(const Napi::CallbackInfo &info) {
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int flags = info[1].As<Napi::Number>().Int32Value();
  int mode = info.Length() > 2 ? info[2].As<Napi::Number>().Int32Value() : 0;
  int fd = open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) throw errnoError(info.Env(), "open " + path, errno);
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value CloseFd(const Napi::CallbackInfo &info) {
  close(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

Napi::Value Mkfifo(const Napi::CallbackInfo &info) {
  std::string path = info[0].As<Napi::String>().Utf8Value();
  mode_t mode = info[1].As<Napi::Number>().Uint32Value();
  if (mkfifo(path.c_str(), mode) < 0) throw errnoError(info.Env(), "mkfifo " + path, errno);
  // The exact mode, past the umask: the init opens it after switching to the container's user.
  if (chmod(path.c_str(), mode) < 0) throw errnoError(info.Env(), "chmod " + path, errno);
  return info.Env().Undefined();
}

bool fillAddr(const std::string &path, sockaddr_un &addr) {
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return false;
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return true;
}

// connectUnix(path) -> fd of a connected SOCK_STREAM unix socket (close-on-exec).
Napi::Value ConnectUnix(const Napi::CallbackInfo &info) {
  std::string path = info[0].As<Napi::String>().Utf8Value();
  sockaddr_un addr;
  if (!fillAddr(path, addr)) throw errnoError(info.Env(), "connect " + path, ENAMETOOLONG);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw errnoError(info.Env(), "socket", errno);
  if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) < 0) {
    int err = errno;
    close(fd);
    throw errnoError(info.Env(), "connect " + path, err);
  }
  return Napi::Number::New(info.Env(), fd);
}

// listenUnix(path) -> fd of a listening SOCK_STREAM unix socket (close-on-exec).
Napi::Value ListenUnix(const Napi::CallbackInfo &info) {
  std::string path = info[0].As<Napi::String>().Utf8Value();
  sockaddr_un addr;
  if (!fillAddr(path, addr)) throw errnoError(info.Env(), "listen " + path, ENAMETOOLONG);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw errnoError(info.Env(), "socket", errno);
  if (bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) < 0 || listen(fd, 4) < 0) {
    int err = errno;
    close(fd);
    throw errnoError(info.Env(), "listen " + path, err);
  }
  return Napi::Number::New(info.Env(), fd);
}

class AcceptFdWorker : public PromiseWorker {
 public:
  AcceptFdWorker(Napi::Env env, int fd) : PromiseWorker(env, "receive fd"), fd_(fd) {}
  void Execute() override {
    int conn = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) {
      err_ = errno;
      return;
    }
    char byte;
    iovec iov{&byte, 1};
    union {
      char buf[CMSG_SPACE(sizeof(int))];
      cmsghdr align;
    } u;
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof u.buf;
    ssize_t n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
    if (n < 0) err_ = errno;
    cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&mh) : nullptr;
    if (err_ == 0 && (cm == nullptr || cm->cmsg_type != SCM_RIGHTS)) err_ = EBADMSG;
    if (err_ == 0) memcpy(&received_, CMSG_DATA(cm), sizeof(int));
    close(conn);
  }

 protected:
  Napi::Value Resolve(Napi::Env env) override { return Napi::Number::New(env, received_); }

 private:
  int fd_;
  int received_ = -1;
};

// acceptFd(listenFd) -> Promise<fd>: accepts one connection and receives one fd with SCM_RIGHTS.
Napi::Value AcceptFd(const Napi::CallbackInfo &info) { return PromiseWorker::Start<AcceptFdWorker>(info); }

long bpfCall(int cmd, union bpf_attr *attr) { return syscall(SYS_bpf, cmd, attr, sizeof *attr); }

// The ids of the BPF_CGROUP_DEVICE programs attached directly to the cgroup open as dirFd.
std::vector<uint32_t> attachedDevicePrograms(int dirFd, int *err) {
  std::vector<uint32_t> ids(64);
  for (int attempt = 0; attempt < 8; attempt++) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.query.target_fd = static_cast<uint32_t>(dirFd);
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = reinterpret_cast<uint64_t>(ids.data());
    attr.query.prog_cnt = static_cast<uint32_t>(ids.size());
    if (bpfCall(BPF_PROG_QUERY, &attr) == 0) {
      ids.resize(attr.query.prog_cnt);
      *err = 0;
      return ids;
    }
    if (errno != ENOSPC) {
      *err = errno;
      return {};
    }
    ids.resize(attr.query.prog_cnt + 8);  // more were attached meanwhile: ask again with room
  }
  *err = ENOSPC;
  return {};
}

// attachDeviceProgram(cgroupDirectory, program, license): loads `program` (struct bpf_insn[]) as a
// BPF_PROG_TYPE_CGROUP_DEVICE program, attaches it with BPF_F_ALLOW_MULTI, then detaches the device
// programs that were attached before (ours from an earlier update). The new program is attached before
// the old ones go, so the cgroup is never without a filter (both apply meanwhile: stricter, not looser).
Napi::Value AttachDeviceProgram(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string directory = info[0].As<Napi::String>().Utf8Value();
  Napi::Buffer<uint8_t> program = info[1].As<Napi::Buffer<uint8_t>>();
  std::string license = info[2].As<Napi::String>().Utf8Value();
  if (program.Length() == 0 || program.Length() % sizeof(struct bpf_insn) != 0) {
    throw errnoError(env, "bpf program length is not a multiple of 8", EINVAL);
  }
  int dirFd = open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd < 0) throw errnoError(env, "open cgroup " + directory, errno);
  int err = 0;
  std::vector<uint32_t> old = attachedDevicePrograms(dirFd, &err);
  if (err != 0) {
    close(dirFd);
    throw errnoError(env, "bpf(BPF_PROG_QUERY) on " + directory, err);
  }

  std::vector<char> log;
  union bpf_attr load;
  memset(&load, 0, sizeof load);
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insn_cnt = static_cast<uint32_t>(program.Length() / sizeof(struct bpf_insn));
  load.insns = reinterpret_cast<uint64_t>(program.Data());
  load.license = reinterpret_cast<uint64_t>(license.c_str());
  int progFd = static_cast<int>(bpfCall(BPF_PROG_LOAD, &load));
  if (progFd < 0 && errno == EINVAL) {
    // Load again with the verifier log so the error says why.
    log.assign(16384, '\0');
    load.log_level = 1;
    load.log_size = static_cast<uint32_t>(log.size());
    load.log_buf = reinterpret_cast<uint64_t>(log.data());
    progFd = static_cast<int>(bpfCall(BPF_PROG_LOAD, &load));
    if (progFd < 0) errno = EINVAL;
  }
  if (progFd < 0) {
    int e = errno;
    close(dirFd);
    std::string what = "bpf(BPF_PROG_LOAD) of the device filter";
    if (!log.empty() && log[0] != '\0') what += " (verifier: " + std::string(log.data()).substr(0, 2000) + ")";
    throw errnoError(env, what, e);
  }

  union bpf_attr attach;
  memset(&attach, 0, sizeof attach);
  attach.target_fd = static_cast<uint32_t>(dirFd);
  attach.attach_bpf_fd = static_cast<uint32_t>(progFd);
  attach.attach_type = BPF_CGROUP_DEVICE;
  attach.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpfCall(BPF_PROG_ATTACH, &attach) < 0) {
    int e = errno;
    close(progFd);
    close(dirFd);
    throw errnoError(env, "bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE) to " + directory, e);
  }
  close(progFd);  // the attachment holds the program

  for (uint32_t id : old) {
    union bpf_attr byId;
    memset(&byId, 0, sizeof byId);
    byId.prog_id = id;
    int oldFd = static_cast<int>(bpfCall(BPF_PROG_GET_FD_BY_ID, &byId));
    if (oldFd < 0) {
      // Gone meanwhile, or hidden from us by an LSM: a device program can only restrict, so leave it.
      if (errno == ENOENT || errno == EPERM || errno == EACCES) continue;
      int e = errno;
      close(dirFd);
      throw errnoError(env, "bpf(BPF_PROG_GET_FD_BY_ID) for an old device filter", e);
    }
    union bpf_attr detach;
    memset(&detach, 0, sizeof detach);
    detach.target_fd = static_cast<uint32_t>(dirFd);
    detach.attach_bpf_fd = static_cast<uint32_t>(oldFd);
    detach.attach_type = BPF_CGROUP_DEVICE;
    long r = bpfCall(BPF_PROG_DETACH, &detach);
    int e = errno;
    close(oldFd);
    if (r < 0 && e != ENOENT) {
      close(dirFd);
      throw errnoError(env, "bpf(BPF_PROG_DETACH) of an old device filter from " + directory, e);
    }
  }
  close(dirFd);
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("attachDeviceProgram", Napi::Function::New(env, AttachDeviceProgram));
  exports.Set("spawn", Napi::Function::New(env, Spawn));
  exports.Set("spawnMonitored", Napi::Function::New(env, SpawnMonitored));
  exports.Set("syncRecv", Napi::Function::New(env, SyncRecv));
  exports.Set("syncSend", Napi::Function::New(env, SyncSend));
  exports.Set("waitPid", Napi::Function::New(env, WaitPid));
  exports.Set("tryWaitPid", Napi::Function::New(env, TryWaitPid));
  exports.Set("openFd", Napi::Function::New(env, OpenFd));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  exports.Set("mkfifo", Napi::Function::New(env, Mkfifo));
  exports.Set("connectUnix", Napi::Function::New(env, ConnectUnix));
  exports.Set("listenUnix", Napi::Function::New(env, ListenUnix));
  exports.Set("acceptFd", Napi::Function::New(env, AcceptFd));
  return exports;
}

}  // namespace

NODE_API_MODULE(ocikit_runtime, Init)
