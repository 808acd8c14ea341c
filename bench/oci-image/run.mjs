#!/usr/bin/env node
// Benchmark of @ocikit/oci-image against umoci, GNU tar and openssl. Not a test: it prints timings, ratios and
// a markdown table. Run from the repository root after building the package:
//   pnpm --filter @ocikit/oci-image run build && node bench/oci-image/run.mjs
// Options: --runs=N (default 3, the median is reported), --quick (small sizes, to check the script),
// --keep (leave the temp directory), --only=image,small,digest (a subset of the scenarios).
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const distEntry = path.resolve(here, '../../packages/oci-image/dist/index.js');
if (!fs.existsSync(distEntry)) {
  console.error(`missing ${distEntry}: run \`pnpm --filter @ocikit/oci-image run build\` first`);
  process.exit(2);
}
const oci = await import(distEntry);
// the raw tar encoder is published for fixtures through the package's ./testing entry
const ociTesting = await import(path.resolve(here, '../../packages/oci-image/dist/testing/index.js'));

const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const value = (name, fallback) => {
  const found = args.find((arg) => arg.startsWith(`--${name}=`));
  return found === undefined ? fallback : found.slice(name.length + 3);
};
const quick = flag('quick');
const keep = flag('keep');
const runs = Number(value('runs', '3'));
const only = new Set(value('only', 'image,small,digest').split(','));

const MiB = 1024 * 1024;
const scale = quick ? 0.1 : 1;
const smallFiles = quick ? 5_000 : 50_000;
const smallDirectories = quick ? 50 : 500;
const digestBytes = quick ? 128 * MiB : 1024 * MiB;

// ---------------------------------------------------------------------------------------------------
// helpers

function have(command) {
  return spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
}

const tools = {
  umoci: have('umoci'),
  tar: have('tar'),
  openssl: spawnSync('openssl', ['version']).status === 0,
};

/** Runs a command to its end; rejects with its stderr on failure. Resolves to stdout. */
function exec(command, argv) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (chunk) => out.push(chunk));
    child.stderr.on('data', (chunk) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new Error(`${command} ${argv.join(' ')} exited ${code}: ${Buffer.concat(err)}`));
    });
  });
}

const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU seconds of the children this process waited for (utime + stime of /proc/self/stat's cutime, cstime). */
function childrenCpu() {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); cutime and cstime are fields 16 and 17
  return (Number(fields[13]) + Number(fields[14])) / clockTicks;
}

/** Wall seconds and CPU seconds (this process, all threads, plus waited-for children) of `action`. */
async function timed(action) {
  const ownBefore = process.cpuUsage();
  const childrenBefore = childrenCpu();
  const start = process.hrtime.bigint();
  await action();
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  const own = process.cpuUsage(ownBefore);
  const cpu = (own.user + own.system) / 1e6 + (childrenCpu() - childrenBefore);
  return { wall, cpu };
}

/** A digest of what a tree holds (path, type, size, mode, owner of every entry), via find(1). */
function treeFingerprint(root) {
  const listing = spawnSync('find', [root, '-mindepth', '1', '-printf', '%P %y %s %m %U %G\\n'], {
    encoding: 'buffer',
    maxBuffer: 1 << 30,
  });
  if (listing.status !== 0) throw new Error(`find ${root} failed: ${listing.stderr}`);
  // directory sizes depend on how the directory grew, not on what it holds
  const lines = listing.stdout
    .toString('utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.replace(/^(.*) d \d+ /, '$1 d - '))
    .sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

/** Medians of wall and CPU time over runs, or undefined when the contender did not run. */
const summary = (measured) =>
  measured === undefined || measured.length === 0
    ? undefined
    : { wall: median(measured.map((m) => m.wall)), cpu: median(measured.map((m) => m.cpu)) };

/** mulberry32: the same bytes for the same seed. */
function seeded(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (min, max) => min + Math.floor(next() * (max - min + 1)) };
}

/**
 * Pseudo-random but compressible content (gzip gets it to roughly a third): lines of words from a small
 * vocabulary, drawn from a pool so that filling a buffer is one copy per line.
 */
function contentSource(seed) {
  const random = seeded(seed);
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const words = [];
  for (let i = 0; i < 2048; i++) {
    let word = '';
    const length = random.int(2, 10);
    for (let j = 0; j < length; j++) word += letters[random.int(0, 25)];
    words.push(word);
  }
  const lines = [];
  for (let i = 0; i < 16384; i++) {
    const parts = [];
    const count = random.int(4, 14);
    for (let j = 0; j < count; j++) parts.push(words[random.int(0, words.length - 1)]);
    lines.push(Buffer.from(`${parts.join(' ')}\n`));
  }
  return {
    random,
    fill(size) {
      const out = Buffer.allocUnsafe(size);
      let offset = 0;
      while (offset < size) {
        const line = lines[random.int(0, lines.length - 1)];
        offset += line.copy(out, offset, 0, Math.min(line.length, size - offset));
      }
      return out;
    },
  };
}

async function writeBigFile(file, size, source) {
  const handle = await fs.promises.open(file, 'w', 0o644);
  try {
    for (let written = 0; written < size; ) {
      const chunk = source.fill(Math.min(4 * MiB, size - written));
      await handle.write(chunk);
      written += chunk.length;
    }
  } finally {
    await handle.close();
  }
}

/** Makes a gzip layer of `directory` with the package and stores it in `provider` (through a temp file). */
async function storeLayer(provider, directory, temp) {
  const created = oci.createLayerFromDirectory(directory, {
    compression: 'gzip',
    mtime: new Date(1_700_000_000_000),
  });
  await pipeline(created.stream, fs.createWriteStream(temp));
  const info = await created.done;
  const descriptor = { mediaType: oci.MediaType.ociLayerGzip, digest: info.digest, size: info.size };
  await provider.put(descriptor, fs.createReadStream(temp, { highWaterMark: MiB }));
  fs.unlinkSync(temp);
  return { descriptor, diffId: info.diffId, uncompressedSize: info.uncompressedSize };
}

async function storeImage(provider, layers, tag) {
  const config = oci.encodeImageConfig({
    created: '2024-01-01T00:00:00Z',
    architecture: 'amd64',
    os: 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.diffId) },
  });
  await provider.put(config.descriptor, config.raw);
  const manifest = oci.encodeManifest({
    schemaVersion: 2,
    mediaType: oci.MediaType.ociManifest,
    config: config.descriptor,
    layers: layers.map((layer) => layer.descriptor),
  });
  const descriptor = { mediaType: oci.MediaType.ociManifest, digest: manifest.digest, size: manifest.size };
  await provider.put(descriptor, manifest.raw);
  await provider.tag(tag, descriptor);
}

// ---------------------------------------------------------------------------------------------------
// fixtures

/** ~200 MB in 4 gzip layers: a few big files and many medium ones per layer. */
async function makeImage(workspace, layoutDirectory) {
  const source = contentSource(20240101);
  const plan = [
    { big: [30, 30], medium: 400 },
    { big: [20], medium: 300 },
    { big: [], medium: 300 },
    { big: [], medium: 200 },
  ];
  const provider = await oci.layout.create(layoutDirectory);
  const layers = [];
  let files = 0;
  for (const [index, layer] of plan.entries()) {
    const directory = path.join(workspace, `image-source-${index}`);
    for (const [position, megabytes] of layer.big.entries()) {
      await mkdir(path.join(directory, 'opt/big'), { recursive: true });
      await writeBigFile(
        path.join(directory, `opt/big/blob-${index}-${position}.dat`),
        Math.round(megabytes * MiB * scale),
        source,
      );
      files += 1;
    }
    const count = Math.round(layer.medium * scale);
    for (let i = 0; i < count; i++) {
      const sub = path.join(directory, `usr/share/layer${index}/d${i % 20}`);
      await mkdir(sub, { recursive: true });
      await writeFile(path.join(sub, `file-${i}.txt`), source.fill(source.random.int(8 * 1024, 192 * 1024)));
      files += 1;
    }
    layers.push(await storeLayer(provider, directory, path.join(workspace, 'layer.tmp')));
  }
  await storeImage(provider, layers, 'bench');
  return { provider, layers, files };
}

/**
 * One gzip layer of many small files (100-2000 bytes) spread over directories. The tar is written with the
 * package's tar writer straight from memory: no source tree of 50,000 files to create (and delete) on disk.
 */
async function makeSmallFiles(workspace, layoutDirectory) {
  const source = contentSource(4242);
  const mtime = 1_700_000_000;
  async function* entries() {
    const perDirectory = Math.ceil(smallFiles / smallDirectories);
    let index = 0;
    for (let d = 0; d < smallDirectories; d++) {
      const directory = `d${String(d).padStart(3, '0')}`;
      yield ociTesting.encodeTarHeader({
        path: `${directory}/`,
        type: 'directory',
        mode: 0o755,
        uid: 0,
        gid: 0,
        size: 0,
        mtime,
      });
      for (let i = 0; i < perDirectory && index < smallFiles; i++, index++) {
        const content = source.fill(source.random.int(100, 2000));
        yield ociTesting.encodeTarHeader({
          path: `${directory}/f${index}.txt`,
          type: 'file',
          mode: 0o644,
          uid: 0,
          gid: 0,
          size: content.length,
          mtime,
        });
        yield content;
        yield ociTesting.tarPadding(content.length);
      }
    }
    yield ociTesting.TAR_END;
  }
  const provider = await oci.layout.create(layoutDirectory);
  const temp = path.join(workspace, 'layer.tmp');
  const tar = new oci.Digester();
  const blob = new oci.Digester();
  const tap = (digester) =>
    new Transform({
      transform(chunk, _encoding, callback) {
        digester.update(chunk);
        callback(null, chunk);
      },
    });
  await pipeline(
    Readable.from(entries()),
    tap(tar),
    oci.compress('gzip'),
    tap(blob),
    fs.createWriteStream(temp),
  );
  const descriptor = { mediaType: oci.MediaType.ociLayerGzip, digest: blob.digest(), size: blob.size };
  await provider.put(descriptor, fs.createReadStream(temp, { highWaterMark: MiB }));
  fs.unlinkSync(temp);
  const layers = [{ descriptor, diffId: tar.digest(), uncompressedSize: tar.size }];
  await storeImage(provider, layers, 'bench');
  return { provider, layers, files: smallFiles };
}

// ---------------------------------------------------------------------------------------------------
// contenders

async function unpackOurs(provider, root) {
  await mkdir(root, { mode: 0o755 });
  const manifest = await oci.readManifest(provider, await provider.resolve('bench'));
  for (const layer of manifest.value.layers) {
    await oci.applyLayer(root, await provider.get(layer.digest), {
      compression: 'gzip',
      expected: { digest: layer.digest, size: layer.size },
    });
  }
}

function unpackUmoci(layoutDirectory, bundle) {
  return exec('umoci', ['unpack', '--image', `${layoutDirectory}:bench`, bundle]);
}

async function unpackTar(provider, layers, root) {
  await mkdir(root, { mode: 0o755 });
  for (const layer of layers) {
    await exec('tar', ['-xzf', provider.blobPath(layer.descriptor.digest), '-C', root]);
  }
}

/** A writable that drops what it is given. */
const nullSink = () =>
  new Writable({
    highWaterMark: MiB,
    write(_chunk, _encoding, callback) {
      callback();
    },
  });

/** Streamed: `VerifyStream` fed by `fs.createReadStream` with 1 MiB chunks (a fresh buffer per chunk). */
async function digestStream(file, digest, size) {
  await pipeline(
    fs.createReadStream(file, { highWaterMark: MiB }),
    new oci.VerifyStream({ digest, size }),
    nullSink(),
  );
}

/** Streamed through the provider: `LayoutProvider.get(digest, { verify: true })` read to its end. */
async function digestProviderGet(provider, digest) {
  await pipeline(await provider.get(digest, { verify: true }), nullSink());
}

/** Verify-only: `LayoutProvider.verify` (two reused 1 MiB buffers, no stream). */
async function digestProviderVerify(provider, digest, size) {
  const { size: checked } = await provider.verify(digest, { size });
  if (checked !== size) throw new Error('verify: wrong size');
}

async function digestOpenssl(file) {
  const out = await exec('openssl', ['dgst', '-sha256', '-r', file]);
  return `sha256:${out.split(' ')[0]}`;
}

// ---------------------------------------------------------------------------------------------------
// report

function printReport() {
  const seconds = (value) =>
    value === undefined ? 'n/a' : `${value.wall.toFixed(2)} s (${value.cpu.toFixed(2)})`;
  const ratio = (ours, theirs) =>
    theirs === undefined
      ? 'n/a'
      : `${(ours.wall / theirs.wall).toFixed(2)}x (${(ours.cpu / theirs.cpu).toFixed(2)}x)`;
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  console.log('');
  console.log(
    `ocikit oci-image benchmark — node ${process.version}, ${os.cpus().length} x ${cpu}, ${os.type()} ${os.release()}, median of ${runs}${quick ? ' (--quick sizes)' : ''}`,
  );
  console.log('');
  console.log(
    '| unpack | ocikit `applyLayer` | `umoci unpack` | GNU `tar -xzf` | ocikit / umoci | ocikit / tar |',
  );
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const result of results.filter((entry) => entry.kind === 'unpack')) {
    console.log(
      `| ${result.label}: ${result.detail} | ${seconds(result.ocikit)} | ${seconds(result.umoci)} | ${seconds(result.tar)} | ${ratio(result.ocikit, result.umoci)} | ${ratio(result.ocikit, result.tar)} |`,
    );
  }
  const digestResults = results.filter((entry) => entry.kind === 'digest');
  if (digestResults.length > 0) {
    console.log('');
    console.log('| digest | ocikit | `openssl dgst -sha256` | ocikit / openssl |');
    console.log('|---|---:|---:|---:|');
    for (const result of digestResults) {
      console.log(
        `| ${result.label} | ${seconds(result.ocikit)} | ${seconds(result.openssl)} | ${ratio(result.ocikit, result.openssl)} |`,
      );
    }
  }
  console.log('');
  console.log(
    'Wall-clock seconds, CPU seconds (user + system, children included) in parentheses; ratios likewise.',
  );
  console.log(
    'Targets: unpack faster than umoci (ratio < 1) and within 1.5x of tar; sha256 within 1.2x of openssl.',
  );
}

// ---------------------------------------------------------------------------------------------------
// main

const results = [];
const workspace = await mkdtemp(path.join(os.tmpdir(), 'ocikit-bench-'));
let cleaned = false;
function cleanup() {
  if (cleaned || keep) return;
  cleaned = true;
  // rm(1) is the quickest way to drop hundreds of thousands of files; fall back to fs.rmSync.
  if (spawnSync('rm', ['-rf', '--one-file-system', workspace]).status !== 0) {
    fs.rmSync(workspace, { recursive: true, force: true });
  }
}
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

const log = (message) => process.stderr.write(`${message}\n`);
let directoryCounter = 0;
const newDirectory = (name) => path.join(workspace, 'out', `${name}-${++directoryCounter}`);

/**
 * Times each contender `runs` times, interleaved. Every run writes into a new directory: ext4 is much
 * slower at creating files right after many were deleted, so nothing is deleted until the end.
 */
async function compareUnpack(label, fixture, layoutDirectory) {
  const contenders = [['ocikit', (dir) => unpackOurs(fixture.provider, dir)]];
  if (tools.umoci) contenders.push(['umoci', (dir) => unpackUmoci(layoutDirectory, dir)]);
  if (tools.tar) contenders.push(['tar', (dir) => unpackTar(fixture.provider, fixture.layers, dir)]);
  const times = Object.fromEntries(contenders.map(([name]) => [name, []]));
  const outputs = {};
  for (let run = 0; run < runs; run++) {
    for (const [name, action] of contenders) {
      spawnSync('sync'); // start each run with no dirty pages left by the previous one
      const directory = newDirectory(name);
      outputs[name] = name === 'umoci' ? path.join(directory, 'rootfs') : directory;
      const measured = await timed(() => action(directory));
      times[name].push(measured);
      log(
        `  ${label}: ${name} run ${run + 1}: ${measured.wall.toFixed(2)} s wall, ${measured.cpu.toFixed(2)} s cpu`,
      );
    }
  }
  // The contenders must have produced the same tree (names, types, sizes, modes, owners).
  const prints = Object.entries(outputs).map(([name, directory]) => [name, treeFingerprint(directory)]);
  const differing = prints.filter(([, print]) => print !== prints[0][1]).map(([name]) => name);
  if (differing.length > 0) throw new Error(`${label}: ${differing.join(', ')} unpacked a different tree`);
  log(`  ${label}: ${prints.map(([name]) => name).join(', ')} unpacked identical trees`);
  const compressed = fixture.layers.reduce((sum, layer) => sum + layer.descriptor.size, 0);
  const uncompressed = fixture.layers.reduce((sum, layer) => sum + layer.uncompressedSize, 0);
  results.push({
    kind: 'unpack',
    label,
    detail: `${fixture.layers.length} gzip layer(s), ${fixture.files.toLocaleString('en')} files, ${(uncompressed / MiB).toFixed(0)} MiB tar, ${(compressed / MiB).toFixed(0)} MiB gzip`,
    ocikit: summary(times.ocikit),
    umoci: summary(times.umoci),
    tar: summary(times.tar),
  });
}

try {
  log(`workspace ${workspace}`);
  await mkdir(path.join(workspace, 'out'));
  if (only.has('image')) {
    log('generating the multi-layer image...');
    const layoutDirectory = path.join(workspace, 'image-layout');
    const started = Date.now();
    const fixture = await makeImage(workspace, layoutDirectory);
    log(`  generated in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await compareUnpack('multi-layer image', fixture, layoutDirectory);
  }
  if (only.has('small')) {
    log('generating the small-files layer...');
    const layoutDirectory = path.join(workspace, 'small-layout');
    const started = Date.now();
    const fixture = await makeSmallFiles(workspace, layoutDirectory);
    log(`  generated in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await compareUnpack('small files', fixture, layoutDirectory);
  }
  if (only.has('digest')) {
    log(`writing a ${digestBytes / MiB} MiB blob of random bytes...`);
    const layoutDirectory = path.join(workspace, 'digest-layout');
    const provider = await oci.layout.create(layoutDirectory);
    const temp = path.join(workspace, 'digest.bin');
    const handle = fs.openSync(temp, 'w');
    const chunk = Buffer.allocUnsafe(8 * MiB);
    const digester = new oci.Digester();
    for (let written = 0; written < digestBytes; written += chunk.length) {
      randomFillSync(chunk);
      digester.update(chunk);
      fs.writeSync(handle, chunk);
    }
    fs.closeSync(handle);
    const digest = digester.digest();
    // Stored as a blob of the layout (renamed into place: no copy of a gigabyte).
    fs.mkdirSync(path.join(layoutDirectory, 'blobs', 'sha256'), { recursive: true });
    const file = provider.blobPath(digest);
    fs.renameSync(temp, file);
    // Warm the page cache with one untimed pass, and check that openssl agrees.
    const expected = tools.openssl ? await digestOpenssl(file) : undefined;
    if (expected !== undefined && expected !== digest)
      throw new Error(`digest mismatch: ${expected} vs ${digest}`);
    const contenders = [
      ['verify', () => digestProviderVerify(provider, digest, digestBytes)],
      ['get', () => digestProviderGet(provider, digest)],
      ['stream', () => digestStream(file, digest, digestBytes)],
    ];
    if (tools.openssl) contenders.push(['openssl', () => digestOpenssl(file)]);
    const times = Object.fromEntries(contenders.map(([name]) => [name, []]));
    for (let run = 0; run < runs; run++) {
      const shown = [];
      for (const [name, action] of contenders) {
        const measured = await timed(action);
        times[name].push(measured);
        shown.push(`${name} ${measured.wall.toFixed(2)} s wall, ${measured.cpu.toFixed(2)} s cpu`);
      }
      log(`  sha256: run ${run + 1}: ${shown.join('; ')}`);
    }
    const label = `sha256 of ${digestBytes / MiB} MiB (page cache warm)`;
    const labels = {
      verify: 'verify-only: `LayoutProvider.verify` (two reused 1 MiB buffers, no stream)',
      get: 'streamed: `LayoutProvider.get(digest, { verify: true })` read to its end (1 MiB chunks)',
      stream: 'streamed: `VerifyStream` fed by `fs.createReadStream` (1 MiB chunks)',
    };
    for (const name of ['verify', 'get', 'stream']) {
      results.push({
        kind: 'digest',
        label: `${label}, ${labels[name]}`,
        ocikit: summary(times[name]),
        openssl: summary(times.openssl),
      });
    }
  }
} finally {
  printReport();
  if (keep) {
    log(`kept ${workspace}`);
  } else {
    log(`removing ${workspace} (hundreds of thousands of files: this takes a while)...`);
    const started = Date.now();
    cleanup();
    log(`  removed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}
