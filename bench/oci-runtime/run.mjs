#!/usr/bin/env node
// Benchmark of @ocikit/oci-runtime against runc. Not a test: it prints medians, p90s, ratios and markdown
// tables. Needs root, runc, and (for the shim figure) containerd + umoci. Run from the repository root
// after building the package:
//   pnpm --filter @ocikit/oci-runtime run build && node bench/oci-runtime/run.mjs
// Options: --iterations=N (default 30 per path, after 3 warm-up rounds), --monitors=N (default 5),
// --no-containerd (skip the shim memory figure), --keep (leave the temp directory).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const packageRoot = path.resolve(here, '../../packages/oci-runtime');
const distEntry = path.join(packageRoot, 'dist/index.js');
const testingEntry = path.join(packageRoot, 'dist/testing/index.js');
const cli = path.join(packageRoot, 'dist/cli.cjs');
// The native front end (native/cli): start/state/kill/delete in C, everything else via `node dist/cli.cjs`.
const frontEnd = path.join(packageRoot, 'build/Release/ocikit-runtime');
const hasFrontEnd = fs.existsSync(frontEnd);
for (const file of [distEntry, testingEntry, cli, path.join(packageRoot, 'build/Release/ocikit-monitor')]) {
  if (!fs.existsSync(file)) {
    console.error(`missing ${file}: run \`pnpm --filter @ocikit/oci-runtime run build\` first`);
    process.exit(2);
  }
}
if (process.getuid?.() !== 0) {
  console.error('the runtime benchmark needs root');
  process.exit(2);
}
if (spawnSync('runc', ['--version'], { stdio: 'ignore' }).status !== 0) {
  console.error('runc is not installed');
  process.exit(2);
}
const runtime = await import(distEntry);
const testing = await import(testingEntry);

const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const value = (name, fallback) => {
  const found = args.find((arg) => arg.startsWith(`--${name}=`));
  return found === undefined ? fallback : found.slice(name.length + 3);
};
const iterations = Number(value('iterations', '30'));
const warmup = 3;
const monitorCount = Number(value('monitors', '5'));
const keep = flag('keep');
const withContainerd = !flag('no-containerd') && fs.existsSync('/usr/bin/containerd');

// ---------------------------------------------------------------------------------------------------
// helpers

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => Number(process.hrtime.bigint()) / 1e6;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ocikit-bench-runtime-'));
const errorLog = path.join(tmp, 'stderr.log');
const errorFd = fs.openSync(errorLog, 'a');
const devNull = fs.openSync('/dev/null', 'r+');

/**
 * Runs a command with stdin/stdout on /dev/null and stderr appended to a file (so a container the
 * command leaves running holds no pipe of ours), resolving on exit. Rejects on a non-zero status.
 */
function run(argv, { allowFailure = false, env = process.env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', errorFd], env });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0 || allowFailure) resolve(code);
      else {
        const tail = fs.readFileSync(errorLog, 'utf8').slice(-2000);
        reject(new Error(`${argv.join(' ')} failed (${code ?? signal}):\n${tail}`));
      }
    });
  });
}

/** Resolves once `pid` has exited (gone, or a zombie waiting for whoever inherited it). */
async function waitExited(pid) {
  while (runtime.isProcessAlive(pid, '')) await sleep(1);
}

function summary(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  return { median: at(0.5), p90: at(0.9), n: sorted.length };
}

const ms = (value) => `${value.toFixed(1)} ms`;
const ratio = (a, b) => `${(a / b).toFixed(2)}x`;

/** VmRSS (from status) and Pss (from smaps_rollup) of a process, in KiB. */
function memoryOf(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return {
    rss: Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN),
    pss: Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? Number.NaN),
  };
}

const kib = (value) => (value >= 1024 ? `${(value / 1024).toFixed(2)} MiB` : `${value} KiB`);
const mean = (values) => values.reduce((sum, v) => sum + v, 0) / values.length;

// ---------------------------------------------------------------------------------------------------
// fixtures: one busybox rootfs shared by every bundle (absolute root.path)

const rootfs = testing.buildBusyboxRootfs(path.join(tmp, 'rootfs'));
function bundle(name, processArgs) {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  const spec = runtime.defaultSpec();
  spec.process = { ...spec.process, terminal: false, args: processArgs };
  spec.root = { path: rootfs, readonly: true };
  spec.hostname = 'bench';
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec, null, 2));
  return dir;
}
const trueBundle = bundle('bundle-true', ['true']);
const sleepBundle = bundle('bundle-sleep', ['sleep', '1000']);

const roots = {
  library: 'root-library',
  libraryMonitored: 'root-library-monitored',
  cli: 'root-cli',
  runc: 'root-runc',
  monitor: 'root-monitor',
};
for (const [key, name] of Object.entries(roots)) {
  roots[key] = path.join(tmp, name);
  fs.mkdirSync(roots[key]);
}

const node = process.execPath;
const cliCommand = [node, cli];
const phases = ['create', 'start', 'wait', 'delete'];

// ---------------------------------------------------------------------------------------------------
// 1. create + start + wait + delete of `true`

const library = new runtime.ContainerRuntime({ root: roots.library });

async function libraryCycle(id, times) {
  let t = now();
  const state = await library.create(id, trueBundle, { stdio: [devNull, devNull, devNull] });
  times.create.push(now() - t);
  t = now();
  await library.start(id);
  times.start.push(now() - t);
  t = now();
  await library.waitChild(state.pid);
  times.wait.push(now() - t);
  t = now();
  await library.delete(id);
  times.delete.push(now() - t);
}

// The same through a monitor per container (what an engine or the CRI server uses): the addon hands the
// container to ocikit-monitor at create, and the exit status comes from the monitor's exit file.
const libraryMonitored = new runtime.ContainerRuntime({ root: roots.libraryMonitored });

async function libraryMonitoredCycle(id, times) {
  let t = now();
  await libraryMonitored.create(id, trueBundle, { monitor: { logPath: path.join(tmp, `${id}.log`) } });
  times.create.push(now() - t);
  t = now();
  await libraryMonitored.start(id);
  times.start.push(now() - t);
  t = now();
  await libraryMonitored.waitExit(id, { pollMs: 5 });
  times.wait.push(now() - t);
  t = now();
  await libraryMonitored.delete(id);
  times.delete.push(now() - t);
  fs.rmSync(path.join(tmp, `${id}.log`), { force: true });
}

function toolCycle(command, root, env = process.env) {
  const runWithEnv = (argv) => run(argv, { env });
  return async (id, times) => {
    const pidFile = path.join(tmp, `${id}.pid`);
    let t = now();
    await runWithEnv([
      ...command,
      '--root',
      root,
      'create',
      '--bundle',
      trueBundle,
      '--pid-file',
      pidFile,
      id,
    ]);
    times.create.push(now() - t);
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    t = now();
    await runWithEnv([...command, '--root', root, 'start', id]);
    times.start.push(now() - t);
    t = now();
    await waitExited(pid);
    times.wait.push(now() - t);
    t = now();
    await runWithEnv([...command, '--root', root, 'delete', id]);
    times.delete.push(now() - t);
    fs.rmSync(pidFile, { force: true });
  };
}

const paths = [
  { key: 'library', label: 'library (`ContainerRuntime`)', cycle: libraryCycle },
  {
    key: 'libraryMonitored',
    label: 'library, under `ocikit-monitor`',
    cycle: libraryMonitoredCycle,
  },
  { key: 'cli', label: 'CLI (`node dist/cli.cjs`)', cycle: toolCycle(cliCommand, roots.cli) },
  { key: 'runc', label: 'runc 1.1 CLI', cycle: toolCycle(['runc'], roots.runc) },
];
if (hasFrontEnd) {
  roots.frontEnd = path.join(tmp, 'root-front-end');
  fs.mkdirSync(roots.frontEnd);
  paths.splice(2, 0, {
    key: 'frontEnd',
    label: 'native front end (`build/Release/ocikit-runtime`)',
    cycle: toolCycle([frontEnd], roots.frontEnd),
  });
}
// NODE_EXTRA_CA_CERTS makes every node start read and parse a CA bundle (~40-50 ms here); the shim passes
// containerd's environment on, so the CLI pays it too when it is set. Measure both when it is.
const withoutCaCerts = { ...process.env };
delete withoutCaCerts.NODE_EXTRA_CA_CERTS;
if (process.env.NODE_EXTRA_CA_CERTS !== undefined) {
  roots.cliClean = path.join(tmp, 'root-cli-clean');
  fs.mkdirSync(roots.cliClean);
  paths.splice(2, 0, {
    key: 'cliClean',
    label: 'CLI, `NODE_EXTRA_CA_CERTS` unset',
    cycle: toolCycle(cliCommand, roots.cliClean, withoutCaCerts),
  });
  if (hasFrontEnd) {
    roots.frontEndClean = path.join(tmp, 'root-front-end-clean');
    fs.mkdirSync(roots.frontEndClean);
    paths.splice(paths.length - 1, 0, {
      key: 'frontEndClean',
      label: 'native front end, `NODE_EXTRA_CA_CERTS` unset',
      cycle: toolCycle([frontEnd], roots.frontEndClean, withoutCaCerts),
    });
  }
}
// Table order: the library paths, the CLI as containerd gets it, the Node CLI for reference, runc last.
const pathOrder = ['library', 'libraryMonitored', 'frontEnd', 'frontEndClean', 'cli', 'cliClean', 'runc'];
paths.sort((a, b) => pathOrder.indexOf(a.key) - pathOrder.indexOf(b.key));
const totals = Object.fromEntries(paths.map((p) => [p.key, []]));
const phaseTimes = Object.fromEntries(
  paths.map((p) => [p.key, Object.fromEntries(phases.map((phase) => [phase, []]))]),
);

console.error(`lifecycle: ${warmup} warm-up + ${iterations} interleaved rounds of library / CLI / runc ...`);
for (let round = 0; round < warmup + iterations; round++) {
  // Rotate the order so no path always runs right after another.
  const order = paths.map((_, i) => paths[(i + round) % paths.length]);
  for (const p of order) {
    const scratch = Object.fromEntries(phases.map((phase) => [phase, []]));
    const t = now();
    await p.cycle(`bench-${p.key}-${round}`, scratch);
    const total = now() - t;
    if (round < warmup) continue;
    totals[p.key].push(total);
    for (const phase of phases) phaseTimes[p.key][phase].push(...scratch[phase]);
  }
}

// ---------------------------------------------------------------------------------------------------
// 2. start-up references: a bare node, the CLI loading and answering without work, runc doing the same

async function timeCommand(argv, count, allowFailure, env) {
  const samples = [];
  for (let i = 0; i < count; i++) {
    const t = now();
    await run(argv, { allowFailure, env });
    samples.push(now() - t);
  }
  return summary(samples);
}
console.error('start-up references ...');
const startup = [
  ['`node -e 0`', [node, '-e', '0'], false],
  ['`node dist/cli.cjs --version`', [node, cli, '--version'], false],
  ['`node dist/cli.cjs state <missing>`', [node, cli, '--root', roots.cli, 'state', 'missing'], true],
  ...(hasFrontEnd
    ? [
        [
          '`ocikit-runtime state <missing>` (front end)',
          [frontEnd, '--root', roots.cli, 'state', 'missing'],
          true,
        ],
        ['`ocikit-runtime --version` (front end, via Node)', [frontEnd, '--version'], false],
      ]
    : []),
  ['`runc --version`', ['runc', '--version'], false],
  ['`runc state <missing>`', ['runc', '--root', roots.runc, 'state', 'missing'], true],
];
if (process.env.NODE_EXTRA_CA_CERTS !== undefined) {
  startup.splice(
    1,
    0,
    ['`node -e 0`, `NODE_EXTRA_CA_CERTS` unset', [node, '-e', '0'], false, withoutCaCerts],
    [
      '`node dist/cli.cjs --version`, `NODE_EXTRA_CA_CERTS` unset',
      [node, cli, '--version'],
      false,
      withoutCaCerts,
    ],
  );
}
const startupResults = [];
for (const [label, argv, allowFailure, env] of startup) {
  startupResults.push([label, await timeCommand(argv, iterations, allowFailure, env)]);
}

// ---------------------------------------------------------------------------------------------------
// 3. memory: ocikit-monitor per running container, containerd-shim-runc-v2 per running container

console.error(`memory: ${monitorCount} monitored containers ...`);
const monitoredRuntime = new runtime.ContainerRuntime({ root: roots.monitor });
const monitors = [];
try {
  for (let i = 0; i < monitorCount; i++) {
    const id = `bench-monitor-${i}`;
    await monitoredRuntime.create(id, sleepBundle, { monitor: { logPath: path.join(tmp, `${id}.log`) } });
    await monitoredRuntime.start(id);
    const record = await monitoredRuntime.store.read(id);
    monitors.push({ id, monitorPid: record.monitor.pid });
  }
  await sleep(500);
  for (const monitor of monitors) Object.assign(monitor, memoryOf(monitor.monitorPid));
} finally {
  for (const monitor of monitors) {
    await monitoredRuntime.delete(monitor.id, { force: true }).catch(() => undefined);
  }
  const deadline = Date.now() + 5_000;
  const alive = (pid) => fs.existsSync(`/proc/${pid}`);
  while (monitors.some((m) => alive(m.monitorPid)) && Date.now() < deadline) await sleep(50);
  for (const monitor of monitors) if (alive(monitor.monitorPid)) process.kill(monitor.monitorPid, 'SIGKILL');
}

const shims = [];
if (withContainerd) {
  console.error('memory: containerd-shim-runc-v2 (runc and ocikit-runtime) ...');
  const containerd = await testing.startContainerd();
  try {
    const archive = testing.buildBusyboxImageArchive(containerd.dir, rootfs);
    const imported = containerd.ctr(['images', 'import', '--base-name', 'bench/busybox', archive]);
    if (imported.code !== 0) throw new Error(`ctr images import: ${imported.stderr}`);
    const wrapper = testing.writeRuntimeWrapper(containerd.dir, cli);
    const common = ['--runc-root', containerd.runtimeRoot, '--fifo-dir', containerd.fifoDir];
    for (const [id, label, extra] of [
      ['shim-runc', 'containerd-shim-runc-v2 (runc)', []],
      ['shim-ocikit', 'containerd-shim-runc-v2 (ocikit-runtime)', ['--runc-binary', wrapper]],
    ]) {
      const started = containerd.ctr([
        'run',
        '-d',
        ...common,
        ...extra,
        'bench/busybox:latest',
        id,
        'sleep',
        '1000',
      ]);
      if (started.code !== 0) throw new Error(`ctr run ${id}: ${started.stderr}`);
      await sleep(500);
      const [pid] = testing.findProcesses('containerd-shim-runc-v2', containerd.address, `-id\0${id}\0`);
      if (pid !== undefined) shims.push({ label, pid, ...memoryOf(pid) });
    }
  } finally {
    await containerd.stop((root, id) =>
      spawnSync(node, [cli, '--root', root, 'delete', '--force', id], { stdio: 'ignore' }),
    );
  }
}

fs.closeSync(errorFd);
fs.closeSync(devNull);
if (keep) console.error(`kept ${tmp}`);
else fs.rmSync(tmp, { recursive: true, force: true });

// ---------------------------------------------------------------------------------------------------
// report

const totalSummary = Object.fromEntries(paths.map((p) => [p.key, summary(totals[p.key])]));
const runcMedian = totalSummary.runc.median;
const lines = [];
lines.push(
  `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Linux ${os.release()}, Node ${process.version}, ` +
    `${spawnSync('runc', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]}; ${iterations} interleaved rounds after ${warmup} warm-up.`,
);
lines.push('');
lines.push('create + start + wait + delete of a busybox `true` container:');
lines.push('');
lines.push('| path | median | p90 | median vs runc |');
lines.push('| --- | ---: | ---: | ---: |');
for (const p of paths) {
  const s = totalSummary[p.key];
  lines.push(`| ${p.label} | ${ms(s.median)} | ${ms(s.p90)} | ${ratio(s.median, runcMedian)} |`);
}
lines.push('');
lines.push('Median per step:');
lines.push('');
lines.push(`| path | ${phases.join(' | ')} |`);
lines.push(`| --- | ${phases.map(() => '---:').join(' | ')} |`);
for (const p of paths) {
  lines.push(
    `| ${p.label} | ${phases.map((phase) => ms(summary(phaseTimes[p.key][phase]).median)).join(' | ')} |`,
  );
}
lines.push('');
lines.push('Process start-up (spawn to exit):');
lines.push('');
lines.push('| command | median | p90 |');
lines.push('| --- | ---: | ---: |');
for (const [label, s] of startupResults) lines.push(`| ${label} | ${ms(s.median)} | ${ms(s.p90)} |`);
lines.push('');
lines.push('Resident memory of the per-container supervisor (running `sleep` container):');
lines.push('');
lines.push('| process | VmRSS | Pss |');
lines.push('| --- | ---: | ---: |');
if (monitors.length > 0) {
  const rss = monitors.map((m) => m.rss);
  const pss = monitors.map((m) => m.pss);
  lines.push(
    `| ocikit-monitor (mean of ${monitors.length}; min–max) | ${kib(Math.round(mean(rss)))} (${kib(Math.min(...rss))}–${kib(Math.max(...rss))}) | ${kib(Math.round(mean(pss)))} (${kib(Math.min(...pss))}–${kib(Math.max(...pss))}) |`,
  );
}
for (const shim of shims) lines.push(`| ${shim.label} | ${kib(shim.rss)} | ${kib(shim.pss)} |`);
if (withContainerd && shims.length === 0) lines.push('| containerd-shim-runc-v2 | not found | |');

const libraryMedian = totalSummary.library.median;
const cliMedian = totalSummary.cli.median;
const maxMonitorRss = monitors.length > 0 ? Math.max(...monitors.map((m) => m.rss)) : Number.NaN;
lines.push('');
lines.push('Targets:');
lines.push(
  `- library faster than runc's CLI: ${ratio(libraryMedian, runcMedian)} → ${libraryMedian < runcMedian ? 'met' : 'MISSED'}`,
);
// The CLI given to containerd is the native front end; `node dist/cli.cjs` for every call (three Node
// start-ups per container, ~80 ms each before any code runs) is shown for reference.
if (totalSummary.frontEnd !== undefined) {
  const front = totalSummary.frontEnd.median;
  lines.push(
    `- CLI (the native front end, the binary given to containerd) within 1.5x of runc: ${ratio(front, runcMedian)} → ${front <= 1.5 * runcMedian ? 'met' : 'MISSED'}`,
  );
} else {
  lines.push('- CLI within 1.5x of runc: not measured (build/Release/ocikit-runtime is missing)');
}
if (totalSummary.frontEndClean !== undefined) {
  const clean = totalSummary.frontEndClean.median;
  lines.push(
    `  (with \`NODE_EXTRA_CA_CERTS\` unset: ${ratio(clean, runcMedian)} → ${clean <= 1.5 * runcMedian ? 'met' : 'MISSED'})`,
  );
}
lines.push(`  for reference, \`node dist/cli.cjs\` for every call: ${ratio(cliMedian, runcMedian)}`);
if (totalSummary.cliClean !== undefined) {
  lines.push(`  (with \`NODE_EXTRA_CA_CERTS\` unset: ${ratio(totalSummary.cliClean.median, runcMedian)})`);
}
lines.push(
  `- monitor < 2 MB RSS per container: max ${kib(maxMonitorRss)} → ${maxMonitorRss < 2048 ? 'met' : 'MISSED'}`,
);
console.log(lines.join('\n'));
