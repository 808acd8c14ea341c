/**
 * The native front end (build/Release/ocikit-runtime) answers start/state/kill/delete itself in the
 * plain cases and must be indistinguishable from `node dist/cli.cjs` there: same stdout, same errors,
 * same state.json bytes, same cgroups removed. Runs with OCIKIT_RUNTIME_NODE pointing at a missing
 * binary prove that no Node fallback happened; other cases prove the fallback does.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  canRunContainers,
  ensureCli,
  frontEndPath,
  makeBundle,
  nodeCliCommand,
  runTool,
  tempDir,
} from './helpers.js';

if (!canRunContainers) console.log('skipping front-end tests: not root');

describe.skipIf(!canRunContainers)('ocikit-runtime native front end', () => {
  const tmp = tempDir('ocikit-fast-');
  const root = join(tmp.dir, 'state');
  const noNode = { ...process.env, OCIKIT_RUNTIME_NODE: join(tmp.dir, 'no-such-node') };
  /** The front end with Node unavailable: only the fast paths can succeed. */
  const fast = (...args: string[]) =>
    runTool([frontEndPath, '--root', root, ...args], tmp.dir, { env: noNode });
  /** The front end as shipped (falls back to Node). */
  const front = (...args: string[]) => runTool([frontEndPath, '--root', root, ...args], tmp.dir);
  const node = (...args: string[]) => runTool([...nodeCliCommand, '--root', root, ...args], tmp.dir);
  const untimed = (text: string) =>
    text.replace(/time="[^"]+"/g, 'time=T').replace(/"time":"[^"]+"/g, '"time":"T"');
  const ids: string[] = [];
  let bundle = '';
  let hookBundle = '';
  const cgroupDirs = (id: string) =>
    ['memory', 'pids', 'freezer', 'cpu', 'devices'].map((c) => `/sys/fs/cgroup/${c}/${id}`);

  const create = (id: string, from = bundle) => {
    ids.push(id);
    const result = node('create', '--bundle', from, id);
    expect(result.code, result.stderr).toBe(0);
  };

  beforeAll(() => {
    ensureCli();
    bundle = makeBundle(join(tmp.dir, 'plain'), ['sleep', '1000'], (spec) => {
      spec.annotations = { b: 'x"y\\z', '1': 'one', ü: 'é' };
    });
    hookBundle = makeBundle(join(tmp.dir, 'hooked'), ['sleep', '1000'], (spec) => {
      spec.hooks = {
        poststart: [{ path: '/bin/sh', args: ['sh', '-c', `echo started > ${join(tmp.dir, 'poststart')}`] }],
      };
    });
  });

  afterAll(() => {
    for (const id of ids) node('delete', '--force', id);
    tmp.cleanup();
  });

  it('state, start and state again match the TS CLI byte for byte, without starting Node', () => {
    create('fast1');
    const created = fast('state', 'fast1');
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toBe(node('state', 'fast1').stdout);
    expect(JSON.parse(created.stdout)).toMatchObject({ status: 'created', annotations: { ü: 'é' } });

    const file = join(root, 'fast1', 'state.json');
    const before = readFileSync(file, 'utf8');
    const started = fast('start', 'fast1');
    expect(started.code, started.stderr).toBe(0);
    expect(started.stderr).toBe('');
    // What runtime.ts start() writes: the record re-serialised with status "running".
    expect(readFileSync(file, 'utf8')).toBe(JSON.stringify({ ...JSON.parse(before), status: 'running' }));
    expect(existsSync(join(root, 'fast1', 'exec.fifo'))).toBe(false);
    const running = fast('state', 'fast1');
    expect(running.stdout).toBe(node('state', 'fast1').stdout);
    expect(JSON.parse(running.stdout).status).toBe('running');

    const again = fast('--log-format', 'json', 'start', 'fast1');
    const againNode = node('--log-format', 'json', 'start', 'fast1');
    expect(again.code).toBe(1);
    expect(againNode.code).toBe(1);
    expect(untimed(again.stderr)).toBe(untimed(againNode.stderr));
  });

  it('sees a paused container through the freezer and refuses to delete it like TS', () => {
    expect(node('pause', 'fast1').code).toBe(0);
    const paused = fast('state', 'fast1');
    expect(JSON.parse(paused.stdout).status).toBe('paused');
    expect(paused.stdout).toBe(node('state', 'fast1').stdout);
    const refused = fast('delete', 'fast1');
    expect(refused.code).toBe(1);
    expect(untimed(refused.stderr)).toBe(untimed(node('delete', 'fast1').stderr));
    expect(untimed(refused.stderr)).toBe(
      'time=T level=error msg="cannot delete container fast1 that is not stopped: paused"\n',
    );
    expect(node('resume', 'fast1').code).toBe(0);
  });

  it('kill by lower-case name without SIG, then refuses a stopped container like TS', () => {
    const killed = fast('kill', 'fast1', 'kill');
    expect(killed.code, killed.stderr).toBe(0);
    let state = '';
    for (let i = 0; i < 200 && !state.includes('"stopped"'); i++) state = fast('state', 'fast1').stdout;
    expect(JSON.parse(state)).toMatchObject({ status: 'stopped', pid: 0 });
    expect(state).toBe(node('state', 'fast1').stdout);
    const again = fast('kill', 'fast1', '15');
    expect(again.code).toBe(1);
    expect(untimed(again.stderr)).toBe(untimed(node('kill', 'fast1', '15').stderr));
    expect(untimed(again.stderr)).toBe('time=T level=error msg="container not running"\n');
  });

  it('deletes a stopped container: its v1 cgroups and state directory are gone', () => {
    expect(cgroupDirs('fast1').some((dir) => existsSync(dir))).toBe(true);
    const deleted = fast('delete', 'fast1');
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(cgroupDirs('fast1').filter((dir) => existsSync(dir))).toEqual([]);
    expect(existsSync(join(root, 'fast1'))).toBe(false);
    expect(fast('delete', '--force', 'fast1').code).toBe(0);
  });

  it('reports a missing container like TS in text, json and to --log', () => {
    const text = fast('state', 'nope');
    expect(text.code).toBe(1);
    expect(untimed(text.stderr)).toBe(untimed(node('state', 'nope').stderr));
    expect(text.stderr).toMatch(/^time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ" level=error msg="container nope/);
    const json = fast('--log-format=json', 'kill', 'nope', 'KILL');
    expect(untimed(json.stderr)).toBe(untimed(node('--log-format=json', 'kill', 'nope', 'KILL').stderr));
    expect(JSON.parse(json.stderr)).toMatchObject({ code: 'CONTAINER_NOT_FOUND', path: 'nope' });
    const logFile = join(tmp.dir, 'fast.log');
    const logged = fast('--log', logFile, '--log-format', 'json', '--debug', 'delete', 'nope');
    expect(logged.code).toBe(1);
    expect(logged.stderr).toBe('container nope does not exist\n');
    expect(JSON.parse(readFileSync(logFile, 'utf8'))).toMatchObject({
      level: 'error',
      msg: 'container nope does not exist',
      code: 'CONTAINER_NOT_FOUND',
    });
  });

  it('start of a container whose init died reports it like TS', () => {
    create('dead1');
    expect(fast('kill', 'dead1', 'SIGKILL').code).toBe(0);
    let status = '';
    for (let i = 0; i < 200 && status !== 'stopped'; i++)
      status = JSON.parse(fast('state', 'dead1').stdout).status;
    const started = fast('start', 'dead1');
    expect(started.code).toBe(1);
    expect(untimed(started.stderr)).toBe(untimed(node('start', 'dead1').stderr));
    expect(untimed(started.stderr)).toContain('cannot start a container that has stopped');
    expect(fast('delete', 'dead1').code).toBe(0);
  });

  it('hands anything else to Node: poststart hooks, --version, list, delete --force of a running one', () => {
    create('hook1', hookBundle);
    // With Node unavailable the front end cannot start it: proof that it did not try itself.
    const refused = fast('start', 'hook1');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('cannot run');
    expect(JSON.parse(fast('state', 'hook1').stdout).status).toBe('created');
    const started = front('start', 'hook1');
    expect(started.code, started.stderr).toBe(0);
    expect(readFileSync(join(tmp.dir, 'poststart'), 'utf8')).toBe('started\n');

    expect(front('--version').stdout).toBe(node('--version').stdout);
    expect(front('list', '-q').stdout).toBe('hook1\n');
    expect(fast('delete', 'hook1').code).toBe(1); // running: refused by the fast path
    const forced = front('delete', '--force', 'hook1');
    expect(forced.code, forced.stderr).toBe(0);
    expect(existsSync(join(root, 'hook1'))).toBe(false);
    expect(cgroupDirs('hook1').filter((dir) => existsSync(dir))).toEqual([]);
    // Usage errors come from Node too.
    expect(untimed(front('kill').stderr)).toBe(untimed(node('kill').stderr));
  });
});
