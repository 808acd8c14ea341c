/**
 * The semantic rules of runtime-spec (and what runc enforces) that a JSON schema cannot state. Pure: no
 * file system access (a namespace `path` or the rootfs existing is checked at create time).
 */
import { RuntimeError } from '../errors.js';
import { formatFieldPath } from '../internal/field-path.js';
import type { Hook, LinuxIdMapping, Process, RuntimeSpec } from './config.js';
import { rlimitNumber } from './rlimits.js';

type FieldPath = readonly (string | number)[];

function fail(path: FieldPath, message: string): never {
  const field = formatFieldPath(path);
  throw new RuntimeError('INVALID_SPEC', `validate spec: ${field}: ${message}`, { path: field });
}

const isAbsolute = (value: string): boolean => value.startsWith('/');
const capabilityPattern = /^CAP_[A-Z0-9_]+$/;
const semverPattern = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

function checkMappings(mappings: readonly LinuxIdMapping[] | undefined, path: FieldPath): void {
  for (const [index, mapping] of (mappings ?? []).entries()) {
    if (mapping.size === 0) fail([...path, index, 'size'], 'an ID mapping must map at least one ID');
    if (mapping.containerID + mapping.size > 2 ** 32) {
      fail([...path, index, 'size'], 'the container range passes 2^32');
    }
    if (mapping.hostID + mapping.size > 2 ** 32) fail([...path, index, 'size'], 'the host range passes 2^32');
  }
}

function checkHook(hook: Hook, path: FieldPath): void {
  // config.md "POSIX-platform Hooks": path MUST be absolute; timeout, if set, MUST be greater than zero.
  if (!isAbsolute(hook.path))
    fail([...path, 'path'], `hook path ${JSON.stringify(hook.path)} is not absolute`);
  if (hook.timeout !== undefined && hook.timeout <= 0)
    fail([...path, 'timeout'], 'must be greater than zero');
  checkEnvironment(hook.env, [...path, 'env']);
}

function checkEnvironment(env: readonly string[] | undefined, path: FieldPath): void {
  for (const [index, entry] of (env ?? []).entries()) {
    // runc refuses entries without "=" (environ(7): NAME=value).
    if (entry.indexOf('=') <= 0) fail([...path, index], `${JSON.stringify(entry)} is not NAME=value`);
  }
}

/** Validates a `process` object; `path` is where it sits (`['process']` in a config). Throws `INVALID_SPEC`. */
export function validateProcess(process: Process, path: FieldPath = ['process']): void {
  // config.md: args on POSIX platforms needs at least one entry; cwd MUST be an absolute path.
  if (process.args === undefined || process.args.length === 0) {
    fail([...path, 'args'], 'at least one argument (the program) is required');
  }
  if (!isAbsolute(process.cwd)) fail([...path, 'cwd'], `${JSON.stringify(process.cwd)} is not absolute`);
  checkEnvironment(process.env, [...path, 'env']);
  const capabilities = process.capabilities;
  if (capabilities !== undefined) {
    for (const set of ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'] as const) {
      for (const [index, name] of (capabilities[set] ?? []).entries()) {
        if (!capabilityPattern.test(name)) {
          fail([...path, 'capabilities', set, index], `${JSON.stringify(name)} is not a CAP_* name`);
        }
      }
    }
  }
  const seen = new Set<string>();
  for (const [index, rlimit] of (process.rlimits ?? []).entries()) {
    if (rlimitNumber(rlimit.type) === undefined) {
      fail([...path, 'rlimits', index, 'type'], `unknown rlimit ${JSON.stringify(rlimit.type)}`);
    }
    // config.md: a runtime MUST generate an error for duplicated rlimit types.
    if (seen.has(rlimit.type)) fail([...path, 'rlimits', index, 'type'], `duplicate rlimit ${rlimit.type}`);
    seen.add(rlimit.type);
    if (BigInt(rlimit.soft) > BigInt(rlimit.hard)) {
      fail([...path, 'rlimits', index, 'soft'], 'the soft limit is above the hard limit');
    }
  }
  if (process.oomScoreAdj !== undefined && (process.oomScoreAdj < -1000 || process.oomScoreAdj > 1000)) {
    fail([...path, 'oomScoreAdj'], 'must be between -1000 and 1000');
  }
  if (process.user.umask !== undefined && process.user.umask > 0o7777) {
    fail([...path, 'user', 'umask'], 'must be at most 0o7777');
  }
  if (
    process.ioPriority !== undefined &&
    (process.ioPriority.priority < 0 || process.ioPriority.priority > 7)
  ) {
    fail([...path, 'ioPriority', 'priority'], 'must be between 0 and 7');
  }
  const scheduler = process.scheduler;
  if (scheduler?.nice !== undefined && (scheduler.nice < -20 || scheduler.nice > 19)) {
    fail([...path, 'scheduler', 'nice'], 'must be between -20 and 19');
  }
  for (const key of ['initial', 'final'] as const) {
    const list = process.execCPUAffinity?.[key];
    if (list !== undefined && !/^\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*$/.test(list)) {
      fail([...path, 'execCPUAffinity', key], `${JSON.stringify(list)} is not a CPU list like 0-3,7`);
    }
  }
}

/**
 * Checks the semantic rules of a schema-valid spec and throws `INVALID_SPEC` (with `path`) at the first
 * broken one. Pure.
 */
export function validateRuntimeSpec(spec: RuntimeSpec): void {
  if (!semverPattern.test(spec.ociVersion)) {
    fail(['ociVersion'], `${JSON.stringify(spec.ociVersion)} is not a SemVer version`);
  }
  if (spec.process !== undefined) validateProcess(spec.process);
  if (spec.root !== undefined && spec.root.path === '') fail(['root', 'path'], 'must not be empty');

  for (const [index, mount] of (spec.mounts ?? []).entries()) {
    const path = ['mounts', index];
    if (!isAbsolute(mount.destination)) {
      fail([...path, 'destination'], `${JSON.stringify(mount.destination)} is not absolute`);
    }
    if ((mount.uidMappings === undefined) !== (mount.gidMappings === undefined)) {
      fail(
        [...path, mount.uidMappings === undefined ? 'uidMappings' : 'gidMappings'],
        'uid and gid mappings go together',
      );
    }
    checkMappings(mount.uidMappings, [...path, 'uidMappings']);
    checkMappings(mount.gidMappings, [...path, 'gidMappings']);
  }

  for (const point of [
    'prestart',
    'createRuntime',
    'createContainer',
    'startContainer',
    'poststart',
    'poststop',
  ] as const) {
    for (const [index, hook] of (spec.hooks?.[point] ?? []).entries())
      checkHook(hook, ['hooks', point, index]);
  }

  const linux = spec.linux;
  const created = new Set<string>();
  const present = new Set<string>();
  for (const [index, namespace] of (linux?.namespaces ?? []).entries()) {
    // config-linux.md: a runtime MUST generate an error when a namespace type appears more than once.
    if (present.has(namespace.type)) {
      fail(['linux', 'namespaces', index, 'type'], `duplicate namespace type ${namespace.type}`);
    }
    present.add(namespace.type);
    if (namespace.path === undefined || namespace.path === '') created.add(namespace.type);
    else if (!isAbsolute(namespace.path)) {
      fail(['linux', 'namespaces', index, 'path'], `${JSON.stringify(namespace.path)} is not absolute`);
    }
  }
  const hasMappings = (linux?.uidMappings?.length ?? 0) > 0 || (linux?.gidMappings?.length ?? 0) > 0;
  if (created.has('user')) {
    // A new user namespace without mappings leaves every ID unmapped (nobody); runc refuses it.
    if ((linux?.uidMappings?.length ?? 0) === 0) {
      fail(['linux', 'uidMappings'], 'a new user namespace needs uid mappings');
    }
    if ((linux?.gidMappings?.length ?? 0) === 0) {
      fail(['linux', 'gidMappings'], 'a new user namespace needs gid mappings');
    }
  } else if (hasMappings && !present.has('user')) {
    fail(
      ['linux', (linux?.uidMappings?.length ?? 0) > 0 ? 'uidMappings' : 'gidMappings'],
      'ID mappings need a user namespace',
    );
  }
  checkMappings(linux?.uidMappings, ['linux', 'uidMappings']);
  checkMappings(linux?.gidMappings, ['linux', 'gidMappings']);
  if (spec.hostname !== undefined && spec.hostname !== '' && !present.has('uts')) {
    fail(['hostname'], 'setting the hostname needs a uts namespace');
  }
  if (spec.domainname !== undefined && spec.domainname !== '' && !present.has('uts')) {
    fail(['domainname'], 'setting the domain name needs a uts namespace');
  }
  for (const clock of Object.keys(linux?.timeOffsets ?? {})) {
    if (clock !== 'monotonic' && clock !== 'boottime') {
      fail(['linux', 'timeOffsets', clock], 'only monotonic and boottime clocks have offsets');
    }
    if (!created.has('time')) fail(['linux', 'timeOffsets', clock], 'time offsets need a new time namespace');
  }

  for (const [index, device] of (linux?.devices ?? []).entries()) {
    const path = ['linux', 'devices', index];
    if (!isAbsolute(device.path)) fail([...path, 'path'], `${JSON.stringify(device.path)} is not absolute`);
    if (!['c', 'b', 'u', 'p'].includes(device.type)) fail([...path, 'type'], 'must be one of c, b, u, p');
    if (device.type !== 'p') {
      if (device.major === undefined) fail([...path, 'major'], 'required for a character or block device');
      if (device.minor === undefined) fail([...path, 'minor'], 'required for a character or block device');
    }
    if (device.fileMode !== undefined && device.fileMode > 0o7777) {
      fail([...path, 'fileMode'], 'holds permission bits only (at most 0o7777)');
    }
  }
  for (const [index, rule] of (linux?.resources?.devices ?? []).entries()) {
    const path = ['linux', 'resources', 'devices', index];
    if (rule.type !== undefined && !['a', 'b', 'c'].includes(rule.type))
      fail([...path, 'type'], 'must be a, b or c');
    if (rule.access !== undefined && !/^[rwm]*$/.test(rule.access))
      fail([...path, 'access'], 'must use only r, w, m');
  }
  for (const [index, path] of (linux?.maskedPaths ?? []).entries()) {
    if (!isAbsolute(path)) fail(['linux', 'maskedPaths', index], `${JSON.stringify(path)} is not absolute`);
  }
  for (const [index, path] of (linux?.readonlyPaths ?? []).entries()) {
    if (!isAbsolute(path)) fail(['linux', 'readonlyPaths', index], `${JSON.stringify(path)} is not absolute`);
  }
  for (const key of Object.keys(linux?.sysctl ?? {})) {
    if (key === '' || key.includes('..') || key.startsWith('/'))
      fail(['linux', 'sysctl', key], 'is not a sysctl name');
  }

  const seccomp = linux?.seccomp;
  for (const [index, flag] of (seccomp?.flags ?? []).entries()) {
    if (!flag.startsWith('SECCOMP_FILTER_FLAG_')) {
      fail(
        ['linux', 'seccomp', 'flags', index],
        `${JSON.stringify(flag)} is not a SECCOMP_FILTER_FLAG_* name`,
      );
    }
  }
  for (const [index, rule] of (seccomp?.syscalls ?? []).entries()) {
    const path = ['linux', 'seccomp', 'syscalls', index];
    if (rule.names.length === 0) fail([...path, 'names'], 'must name at least one syscall');
    for (const [argIndex, arg] of (rule.args ?? []).entries()) {
      // seccomp_data carries six arguments.
      if (arg.index > 5) fail([...path, 'args', argIndex, 'index'], 'must be between 0 and 5');
    }
  }
}
