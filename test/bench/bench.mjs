#!/usr/bin/env node
/**
 * tsrunc's benchmark: wall time and memory of the daemonless tsrunc (one
 * executable compiled with Bun, one process per call), side by side with
 * runc 1.1.5 on the same busybox bundle.
 *
 *   npm run bench [-- --iterations N]      (or BENCH_ITERATIONS=N npm run bench)
 *
 * Needs root, a built tree (`npm run build`), a static /bin/busybox (for
 * bundles/make-rootfs.sh) and runc (/usr/sbin/runc). Optional: GNU time at
 * /usr/bin/time (apt package `time`) for peak RSS, Bun from node_modules for
 * the hello-world floor, containerd and ctr for `ctr run --rm`; without one
 * of them its rows read n/a.
 *
 * What it measures (median and p90 of N runs after 2 warm-up runs; tsrunc and
 * runc alternate, and which goes first alternates too, so that drift on a
 * busy machine hits both alike):
 *   - floors: exec of /bin/true, a compiled Bun hello world, `--version`;
 *   - `state ID` of a created container (tsrunc's created with --no-shim);
 *   - create, start and delete of a container running `true`, each and
 *     summed, for tsrunc with tsrunc-shim (its default at a shell) and with
 *     --no-shim (what it decides under containerd's shim or conmon), and runc
 *     (the wait for the container to stop is polled with `state`, not counted);
 *   - `run ID` in the foreground;
 *   - peak RSS of each command (/usr/bin/time -f %M);
 *   - the RSS of tsrunc-shim supervising a detached container;
 *   - `ctr run --rm ... true` through a private containerd, tsrunc vs runc.
 *
 * Everything lives under one scratch directory (per-runtime --root, the
 * bundle, containerd's root, state and sockets) and is deleted at the end,
 * also on failure and on Ctrl-C. It is a benchmark, not a test: a missed
 * target still exits 0; a runtime command that fails exits 1.
 *
 * Plain Node ESM, node: builtins only, no build step.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { availableParallelism, cpus, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { buildImage, CONTAINERD, CTR, PrivateContainerd } from './containerd.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TSRUNC = join(REPO, 'addon', 'build', 'tsrunc');
const BUN = join(REPO, 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun');
const RUNC = '/usr/sbin/runc';
const GNU_TIME = '/usr/bin/time';
const WARMUP = 2;
const STEP_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

// ---------------------------------------------------------------- options

function usage() {
  return 'usage: node test/bench/bench.mjs [--iterations N]   (env: BENCH_ITERATIONS; default 20)\n';
}

function parseOptions(argv) {
  let iterations = process.env.BENCH_ITERATIONS ?? '20';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      process.stdout.write(usage());
      process.exit(0);
    } else if (a === '--iterations' || a === '-n') {
      iterations = argv[++i];
    } else if (a.startsWith('--iterations=')) {
      iterations = a.slice('--iterations='.length);
    } else {
      process.stderr.write(`bench: unknown argument ${JSON.stringify(a)}\n${usage()}`);
      process.exit(2);
    }
  }
  const n = Number(iterations);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`bench: iterations must be a positive integer, got ${JSON.stringify(iterations)}\n`);
    process.exit(2);
  }
  return { iterations: n };
}

// ---------------------------------------------------------------- helpers

class StepError extends Error {}
class Interrupted extends Error {}

let interrupted = null;
let scratch = null;
let logFile = null;
/** Every (runtime, --root) this run may have left containers in; cleanup sweeps them all. */
const runtimes = [];
/** Containers this run may have created: `${runtime}\0${id}` -> runtime. */
const created = new Map();
/** The private containerd, once started. */
let containerd = null;

const progress = (s) => process.stderr.write(`bench: ${s}\n`);

function tail(file, lines = 15) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function describe(argv) {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

function checkInterrupted() {
  if (interrupted) throw new Interrupted(interrupted);
}

/**
 * Runs argv to completion and returns its wall time in ms. Output goes to a
 * file, never a pipe: a container inherits create's (and run's) stdio, and
 * spawnSync would wait for a pipe to close. Throws StepError on a failure.
 */
async function timed(argv) {
  const fd = openSync(logFile, 'w');
  let r;
  let t0;
  let t1;
  try {
    t0 = process.hrtime.bigint();
    r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', fd, fd], timeout: STEP_TIMEOUT_MS, killSignal: 'SIGKILL' });
    t1 = process.hrtime.bigint();
  } finally {
    closeSync(fd);
  }
  await tick(); // lets a SIGINT handler run between two commands
  checkInterrupted();
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
    throw new StepError(`\`${describe(argv)}\` failed (${why})${tail(logFile) ? `:\n${tail(logFile)}` : ''}`);
  }
  return Number(t1 - t0) / 1e6;
}

/** Runs argv and returns its stdout (for `state`, which starts no process that could hold a pipe). */
async function output(argv) {
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: STEP_TIMEOUT_MS, killSignal: 'SIGKILL' });
  await tick();
  checkInterrupted();
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
    throw new StepError(`\`${describe(argv)}\` failed (${why}):\n${(r.stderr || r.stdout).trimEnd()}`);
  }
  return r.stdout;
}

async function stateOf(rt, id) {
  return JSON.parse(await output(rt.cmd('state', id)));
}

/** Polls `state` until the container has stopped (the wait is not measured). */
async function waitStopped(rt, id) {
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  for (;;) {
    const s = await stateOf(rt, id);
    if (s.status === 'stopped') return;
    if (Date.now() > deadline) throw new StepError(`${rt.name}: container ${id} still ${s.status} after ${STOP_TIMEOUT_MS} ms`);
    await sleep(2);
  }
}

function track(rt, id) {
  created.set(`${rt.name}\0${id}`, rt);
}

function untrack(rt, id) {
  created.delete(`${rt.name}\0${id}`);
}

let idCounter = 0;
const newId = (name, what) => `bench-${process.pid}-${name}-${what}-${++idCounter}`;

/** Median and p90 (nearest rank) of a list of numbers. */
function stats(xs) {
  if (!xs || xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const rank = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { median, p90: rank(0.9), min: s[0], n: s.length };
}

const med = (xs) => stats(xs)?.median;

// ---------------------------------------------------------------- /proc

function procStat(pid) {
  // comm may hold spaces and parentheses: the fields after it start past the last ')'.
  const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0], ppid: Number(rest[1]) };
}

function procStatusKb(pid, key) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) : undefined;
}

function smapsKb(pid, key) {
  try {
    const m = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Processes whose command line mentions the scratch directory (only this run can have started them). */
function strayProcesses() {
  if (!scratch) return [];
  const found = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      const st = procStat(Number(e)).state;
      if (cmdline.includes(scratch) && st !== 'Z' && st !== 'X') found.push({ pid: Number(e), cmdline });
    } catch { /* gone */ }
  }
  return found;
}

/** Mount points at or under dir, deepest first (mountinfo field 5, octal escapes decoded). */
function mountsUnder(dir) {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean)
    .map((l) => l.split(' ')[4].replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))))
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

// ---------------------------------------------------------------- cleanup

let cleaned = false;

/** Synchronous and idempotent: runs from finally, from signal handlers and on exit. */
function cleanup() {
  if (cleaned || !scratch) return;
  cleaned = true;
  // containerd first, while it can still delete its tasks through the shims in order.
  try {
    containerd?.stop();
  } catch (e) {
    process.stderr.write(`bench: cleanup: stopping containerd: ${e.message}\n`);
  }
  for (const rt of runtimes) {
    const ids = new Set([...created.entries()].filter(([, r]) => r === rt).map(([k]) => k.split('\0')[1]));
    try {
      for (const e of readdirSync(rt.root)) ids.add(e);
    } catch { /* no root yet */ }
    for (const id of ids) {
      const argv = rt.cmd('delete', '--force', id);
      const r = spawnSync(argv[0], argv.slice(1), { stdio: 'ignore', timeout: 30_000, killSignal: 'SIGKILL' });
      if (r.status !== 0) process.stderr.write(`bench: cleanup: \`${describe(argv)}\` failed (${r.error?.message ?? r.signal ?? r.status})\n`);
    }
  }
  created.clear();
  // A deleted container's shim exits on its own; give it a moment, then make sure.
  const deadline = Date.now() + 3000;
  let stray = strayProcesses();
  while (stray.length && Date.now() < deadline) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    stray = strayProcesses();
  }
  for (const p of stray) {
    process.stderr.write(`bench: cleanup: killing leftover process ${p.pid} (${p.cmdline})\n`);
    try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  // Only what a killed containerd or shim left: snapshots and task rootfs mounts under our own directory.
  for (const m of mountsUnder(scratch)) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
  const mounts = mountsUnder(scratch);
  if (mounts.length) {
    process.stderr.write(`bench: cleanup: ${mounts.length} mount(s) under ${scratch}; not removing it:\n${mounts.join('\n')}\n`);
    return;
  }
  rmSync(scratch, { recursive: true, force: true });
}

function onSignal(sig) {
  if (interrupted) return;
  interrupted = sig;
  process.stderr.write(`\nbench: ${sig}: stopping after the current command, then cleaning up\n`);
}

// ---------------------------------------------------------------- setup

function makeRuntime(name, exe, root) {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const rt = { name, exe, root, version: [exe, '--version'], cmd: (...args) => [exe, '--root', root, ...args] };
  runtimes.push(rt);
  return rt;
}

/** tsrunc's create flags for the engine case (no tsrunc-shim, as under containerd's shim or conmon); runc has no such flag. */
const engineFlags = (rt) => (rt.exe === TSRUNC ? ['--no-shim'] : []);

function firstLine(argv) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().split('\n')[0] : 'unknown';
}

const mib = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

function machineInfo(hello, time) {
  const cg = existsSync('/sys/fs/cgroup/cgroup.controllers') ? 'v2 (unified)' : existsSync('/sys/fs/cgroup/unified') ? 'hybrid (v1 controllers)' : 'v1';
  const cd = existsSync(CONTAINERD) ? firstLine([CONTAINERD, '--version']).replace(/^containerd \S+ /, '') : 'not installed';
  return [
    ['tsrunc', `${firstLine([TSRUNC, '--version'])} (${TSRUNC}, ${mib(statSync(TSRUNC).size)})`],
    ['runc', `${firstLine([RUNC, '--version'])} (${RUNC}, ${mib(statSync(RUNC).size)})`],
    ['bun hello', hello.path ? `${hello.path} (${mib(statSync(hello.path).size)}), compiled like tsrunc` : `n/a: ${hello.why}`],
    ['containerd', cd],
    ['peak RSS', time ? `${time} -f %M` : `n/a (no GNU time at ${GNU_TIME}: apt-get install time)`],
    ['node', `${process.version} (the harness only)`],
    ['nproc', String(availableParallelism())],
    ['cpu', cpus()[0]?.model ?? 'unknown'],
    ['kernel', `${release()}, cgroup ${cg}`],
    ['loadavg', `${loadavg()} at start`],
  ];
}

function makeBundles() {
  const bundle = join(scratch, 'bundle');
  const rootfs = join(bundle, 'rootfs');
  mkdirSync(bundle);
  const mk = spawnSync(join(REPO, 'bundles', 'make-rootfs.sh'), [rootfs], { encoding: 'utf8' });
  if (mk.status !== 0) throw new StepError(`make-rootfs.sh failed:\n${(mk.stderr || mk.stdout).trimEnd()}`);
  const sp = spawnSync(TSRUNC, ['spec', '-b', bundle], { encoding: 'utf8' });
  if (sp.status !== 0) throw new StepError(`tsrunc spec failed:\n${(sp.stderr || sp.stdout).trimEnd()}`);
  const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  config.process.terminal = false;
  config.process.args = ['true'];
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(config, null, 2));
  // The shim measurement: a container that lives a while, on the same rootfs.
  const sleeper = join(scratch, 'bundle-sleep');
  mkdirSync(sleeper);
  config.process.args = ['sleep', '30'];
  config.root.path = rootfs;
  writeFileSync(join(sleeper, 'config.json'), JSON.stringify(config, null, 2));
  return { bundle, rootfs, sleeper };
}

/** A one-line program compiled with the Bun that compiles tsrunc, with the same flags: the floor of any compiled Bun CLI. */
function makeBunHello() {
  if (!existsSync(BUN)) return { why: `${BUN} is not installed` };
  const dir = join(scratch, 'bun-hello');
  mkdirSync(dir);
  writeFileSync(join(dir, 'hello.js'), "console.log('hello');\n");
  const out = join(dir, 'hello');
  const r = spawnSync(BUN, ['build', '--compile', '--bytecode', '--minify', '--target=bun', join(dir, 'hello.js'), '--outfile', out], { encoding: 'utf8', cwd: dir, timeout: 120_000 });
  if (r.status !== 0) return { why: `bun build --compile failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}` };
  return { path: out };
}

// ---------------------------------------------------------------- measurements

/** Runs fn(key, i) for every key, WARMUP + n times, alternating which goes first; i < 0 is a warm-up. */
async function rounds(keys, n, label, fn) {
  for (let i = -WARMUP; i < n; i++) {
    const order = i % 2 === 0 ? keys : [...keys].reverse();
    for (const k of order) await fn(k, i);
    if (i >= 0 && (i + 1) % 10 === 0) progress(`${label}: ${i + 1}/${n}`);
  }
}

/** Wall time of commands that start no container: { key: [ms...] }. */
async function measureCommands(cmds, n, label) {
  const r = Object.fromEntries(Object.keys(cmds).map((k) => [k, []]));
  await rounds(Object.keys(cmds), n, label, async (k, i) => {
    const ms = await timed(cmds[k]);
    if (i >= 0) r[k].push(ms);
  });
  return r;
}

async function measureState(rts, bundle, n) {
  const ids = {};
  for (const rt of rts) {
    ids[rt.name] = newId(rt.name, 'state');
    track(rt, ids[rt.name]);
    await timed(rt.cmd('create', '-b', bundle, ...engineFlags(rt), ids[rt.name]));
  }
  const r = await measureCommands(Object.fromEntries(rts.map((rt) => [rt.name, rt.cmd('state', ids[rt.name])])), n, 'state');
  for (const rt of rts) {
    await timed(rt.cmd('delete', '--force', ids[rt.name]));
    untrack(rt, ids[rt.name]);
  }
  return r;
}

/** create → start → (wait for stopped, not counted) → delete; variants: { name: [runtime, extra create flags] }. */
async function measureLifecycle(variants, bundle, n) {
  const r = {};
  for (const name of Object.keys(variants)) r[name] = { create: [], start: [], delete: [], total: [] };
  const pidFile = join(scratch, 'pid');
  await rounds(Object.keys(variants), n, 'create/start/delete', async (name, i) => {
    const [rt, flags] = variants[name];
    const id = newId(name, 'life');
    track(rt, id);
    const c = await timed(rt.cmd('create', '-b', bundle, '--pid-file', pidFile, ...flags, id));
    const s = await timed(rt.cmd('start', id));
    await waitStopped(rt, id);
    const d = await timed(rt.cmd('delete', id));
    untrack(rt, id);
    if (i >= 0) {
      r[name].create.push(c);
      r[name].start.push(s);
      r[name].delete.push(d);
      r[name].total.push(c + s + d);
    }
  });
  return r;
}

async function measureRun(rts, bundle, n) {
  const r = Object.fromEntries(rts.map((rt) => [rt.name, []]));
  const byName = Object.fromEntries(rts.map((rt) => [rt.name, rt]));
  await rounds(Object.keys(byName), n, 'run', async (name, i) => {
    const rt = byName[name];
    const id = newId(name, 'run');
    track(rt, id);
    const ms = await timed(rt.cmd('run', '-b', bundle, id));
    // A foreground run deletes its container.
    if (existsSync(join(rt.root, id))) throw new StepError(`${name}: \`run ${id}\` left its container behind`);
    untrack(rt, id);
    if (i >= 0) r[name].push(ms);
  });
  return r;
}

/** Peak RSS (KiB) of one command as GNU time reports it (wait4's ru_maxrss: the process and the children it reaped). */
async function peakRss(time, argv) {
  const out = join(scratch, 'time.out');
  await timed([time, '-f', '%M', '-o', out, ...argv]);
  const last = readFileSync(out, 'utf8').trim().split('\n').pop();
  const kb = Number(last);
  if (!Number.isFinite(kb)) throw new StepError(`${time} wrote ${JSON.stringify(last)}, not a number of KiB`);
  return kb;
}

async function measureMemory(time, rts, hello, bundle, n) {
  const reps = Math.min(n, 5);
  const r = { hello: [] };
  const get = (name, k) => ((r[name] ??= {})[k] ??= []);
  for (let i = 0; i < reps; i++) {
    if (hello.path) r.hello.push(await peakRss(time, [hello.path]));
    for (const rt of rts) {
      get(rt.name, 'version').push(await peakRss(time, rt.version));
      const id = newId(rt.name, 'mem');
      track(rt, id);
      get(rt.name, 'create').push(await peakRss(time, rt.cmd('create', '-b', bundle, ...engineFlags(rt), id)));
      get(rt.name, 'state').push(await peakRss(time, rt.cmd('state', id)));
      get(rt.name, 'start').push(await peakRss(time, rt.cmd('start', id)));
      await waitStopped(rt, id);
      get(rt.name, 'delete').push(await peakRss(time, rt.cmd('delete', id)));
      untrack(rt, id);
      const runId = newId(rt.name, 'memrun');
      track(rt, runId);
      get(rt.name, 'run').push(await peakRss(time, rt.cmd('run', '-b', bundle, runId)));
      untrack(rt, runId);
    }
  }
  return { reps, r };
}

async function measureShim(ts, sleeper) {
  const id = newId('tsrunc', 'shim');
  track(ts, id);
  await timed(ts.cmd('run', '-d', '--shim', '-b', sleeper, id));
  try {
    const s = await stateOf(ts, id);
    if (s.status !== 'running' || !s.pid) throw new StepError(`tsrunc: container ${id} is ${s.status} (pid ${s.pid}), not running`);
    await sleep(200); // let the shim settle into its wait
    const shimPid = procStat(s.pid).ppid;
    const comm = readFileSync(`/proc/${shimPid}/comm`, 'utf8').trim();
    return {
      containerPid: s.pid, shimPid, comm, shimParent: procStat(shimPid).ppid,
      rssKb: procStatusKb(shimPid, 'VmRSS'), hwmKb: procStatusKb(shimPid, 'VmHWM'),
      pssKb: smapsKb(shimPid, 'Pss'), anonKb: smapsKb(shimPid, 'Anonymous'),
    };
  } finally {
    await timed(ts.cmd('delete', '--force', id));
    untrack(ts, id);
  }
}

/**
 * `ctr run --rm IMAGE ID true` through a private containerd, with tsrunc and
 * with runc as containerd-shim-runc-v2's runc binary, alternating. Returns
 * { ms: { tsrunc, runc }, version, leftovers } or { unavailable } when
 * containerd cannot be set up here, or { failed } when a run fails.
 */
async function measureCtr(rootfs, n) {
  if (!existsSync(CONTAINERD) || !existsSync(CTR)) return { unavailable: `${CONTAINERD} or ${CTR} is not installed (apt-get install containerd)` };
  const dir = join(scratch, 'containerd');
  mkdirSync(dir);
  const cd = new PrivateContainerd(dir);
  try {
    progress('containerd: building the image (OCI layout, offline)');
    buildImage(rootfs, join(dir, 'image'), join(dir, 'image.tar'));
    containerd = cd;
    progress('containerd: starting a private one');
    await cd.start({ interrupted: () => !!interrupted });
    checkInterrupted();
    cd.importImage(join(dir, 'image.tar'));
  } catch (e) {
    if (e instanceof Interrupted) throw e;
    return { unavailable: e.message };
  }
  // The shim runs `<binary> --root <runc-root>/<namespace> ...`: one runc-root per runtime.
  const rts = {
    tsrunc: makeRuntime('ctr-tsrunc', TSRUNC, join(dir, 'runtime-root-tsrunc', 'default')),
    runc: makeRuntime('ctr-runc', RUNC, join(dir, 'runtime-root-runc', 'default')),
  };
  const ms = { tsrunc: [], runc: [] };
  try {
    await rounds(Object.keys(rts), n, 'ctr run --rm', async (name, i) => {
      const argv = cd.runArgv(rts[name].exe, dirname(rts[name].root), newId(name, 'ctr'), ['true']);
      const t = await timed(argv);
      if (i >= 0) ms[name].push(t);
    });
  } catch (e) {
    if (e instanceof StepError) return { failed: e.message, version: cd.version() };
    throw e;
  }
  const left = cd.leftovers();
  const state = Object.entries(rts).flatMap(([name, rt]) => (existsSync(rt.root) ? readdirSync(rt.root) : []).map((id) => `${name}: ${id}`));
  const leftovers = [...left.tasks.map((t) => `task ${t}`), ...left.containers.map((c) => `container ${c}`), ...state.map((s) => `runtime state ${s}`)];
  return { ms, version: cd.version(), leftovers };
}

// ---------------------------------------------------------------- report

const fmtMs = (x) => (x === undefined ? '-' : x.toFixed(1));
const fmtMiB = (kb) => (kb === undefined ? '-' : (kb / 1024).toFixed(1));
const fmtRatio = (x) => (x === undefined || !Number.isFinite(x) ? '-' : `${x.toFixed(2)}x`);

/** A plain-text table: the first column (and any in leftCols) left-aligned, the others right-aligned. */
function table(header, rows, leftCols = [0]) {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => String(r[i] ?? '').length)));
  const cell = (c, i) => (leftCols.includes(i) ? String(c ?? '').padEnd(widths[i]) : String(c ?? '').padStart(widths[i]));
  const line = (r) => r.map(cell).join('   ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('   '), ...rows.map(line)].join('\n');
}

/** One row: metric, tsrunc median/p90, runc median/p90, ratio of medians. */
function row(metric, ts, rc, fmt = fmtMs) {
  const a = stats(ts);
  const b = stats(rc);
  return [metric, fmt(a?.median), fmt(a?.p90), fmt(b?.median), fmt(b?.p90), fmtRatio(a && b && b.median > 0 ? a.median / b.median : undefined)];
}

/** A row with one measurement that is neither runtime's (a floor). */
function single(metric, xs, fmt = fmtMs) {
  const a = stats(xs);
  return [metric, fmt(a?.median), fmt(a?.p90), '', '', ''];
}

const ratio = (a, b) => (a === undefined || b === undefined || b <= 0 ? undefined : a / b);
const target = (label, r, limit) => [label, fmtRatio(r), `<= ${limit}x`, r === undefined ? 'n/a' : r <= limit ? 'PASS' : 'MISS'];

// ---------------------------------------------------------------- main

async function main() {
  const { iterations: n } = parseOptions(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new StepError('needs root (it creates containers)');
  for (const f of ['addon/build/tsrunc', 'addon/build/tsrunc-init', 'addon/build/tsrunc-shim']) {
    if (!existsSync(join(REPO, f))) throw new StepError(`${f} is missing: run \`npm run build\` first`);
  }
  if (!existsSync(RUNC)) throw new StepError(`${RUNC} is missing: the bench compares with runc 1.1.5 (apt-get install runc)`);
  let time = existsSync(GNU_TIME) ? GNU_TIME : undefined;
  if (time && !/^\d+$/.test(spawnSync(time, ['-f', '%M', 'true'], { encoding: 'utf8' }).stderr?.trim() ?? '')) time = undefined;
  // At a shell tsrunc supervises with tsrunc-shim unless told otherwise: keep the caller's TSRUNC_SHIM out of it.
  delete process.env.TSRUNC_SHIM;

  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, onSignal);
  process.on('exit', cleanup);
  scratch = mkdtempSync(join(tmpdir(), 'tsrunc-bench-'));
  // Traversable: containerd's shim hands bundles under it to the runtime.
  chmodSync(scratch, 0o711);
  logFile = join(scratch, 'command.log');
  progress(`scratch directory ${scratch}`);

  const { bundle, rootfs, sleeper } = makeBundles();
  progress('compiling a Bun hello world');
  const hello = makeBunHello();
  const ts = makeRuntime('tsrunc', TSRUNC, join(scratch, 'root-tsrunc'));
  const rc = makeRuntime('runc', RUNC, join(scratch, 'root-runc'));

  const info = machineInfo(hello, time);
  console.log('tsrunc benchmark (daemonless: one process per call)');
  const w = Math.max(...info.map(([k]) => k.length));
  for (const [k, v] of info) console.log(`${k.padEnd(w)}  ${v}`);
  console.log(`iterations: ${n} (after ${WARMUP} warm-up runs), tsrunc and runc alternating; wall-clock ms, median and p90`);
  console.log('');

  progress('floors and --version');
  const floorCmds = { true: ['/bin/true'], tsrunc: ts.version, runc: rc.version };
  if (hello.path) floorCmds.hello = [hello.path];
  const floor = await measureCommands(floorCmds, n, 'floors');
  progress('state');
  const state = await measureState([ts, rc], bundle, n);
  progress('create/start/delete');
  const life = await measureLifecycle({ tsrunc: [ts, []], 'tsrunc-noshim': [ts, ['--no-shim']], runc: [rc, []] }, bundle, n);
  progress('run (foreground)');
  const run = await measureRun([ts, rc], bundle, n);
  let mem;
  if (time) {
    progress(`peak RSS (${time} -f %M)`);
    mem = await measureMemory(time, [ts, rc], hello, bundle, n);
  }
  progress('tsrunc-shim RSS');
  const shim = await measureShim(ts, sleeper);

  const L = (v, k) => life[v]?.[k];
  console.log(table(['wall time (ms)', 'tsrunc', 'p90', 'runc', 'p90', 'tsrunc/runc'], [
    single('exec floor: /bin/true', floor.true),
    single('compiled Bun hello world', floor.hello),
    row('--version', floor.tsrunc, floor.runc),
    row('state (created container)', state.tsrunc, state.runc),
    row('create (tsrunc-shim: default at a shell)', L('tsrunc', 'create'), L('runc', 'create')),
    row('start', L('tsrunc', 'start'), L('runc', 'start')),
    row('delete (stopped container)', L('tsrunc', 'delete'), L('runc', 'delete')),
    row('create+start+delete (sum)', L('tsrunc', 'total'), L('runc', 'total')),
    row('create --no-shim (engine case)', L('tsrunc-noshim', 'create'), L('runc', 'create')),
    row('start', L('tsrunc-noshim', 'start'), L('runc', 'start')),
    row('delete', L('tsrunc-noshim', 'delete'), L('runc', 'delete')),
    row('create+start+delete --no-shim (sum)', L('tsrunc-noshim', 'total'), L('runc', 'total')),
    row('run (foreground, `true`)', run.tsrunc, run.runc),
  ]));
  if (!hello.path) console.log(`(Bun hello world: n/a, ${hello.why})`);
  console.log('');

  // Where the time goes, seen from outside: differences of medians, so approximate (and noisy).
  const d = (a, b) => (a === undefined || b === undefined ? undefined : a - b);
  const t = { true: med(floor.true), hello: med(floor.hello), ver: med(floor.tsrunc), state: med(state.tsrunc) };
  const r = { ver: med(floor.runc), state: med(state.runc) };
  const fmtD = (x) => (x === undefined ? '-' : `${x >= 0 ? '+' : ''}${x.toFixed(1)}`);
  console.log('where the time goes (differences of medians, ms; approximate)');
  console.log(table(['', 'tsrunc', 'runc', 'what it is'], [
    ['fork+exec of a tiny program', fmtMs(t.true), fmtMs(t.true), '/bin/true, spawned from this Node harness'],
    ['runtime start-up', fmtD(d(t.hello, t.true)), fmtD(d(r.ver, t.true)), 'tsrunc: Bun hello world − true; runc: runc --version − true (Go runtime and all of runc\'s init)'],
    ['loading tsrunc\'s code', fmtD(d(t.ver, t.hello)), '', 'tsrunc --version − Bun hello world (the bundle\'s top-level code up to argv parsing)'],
    ['the state command', fmtD(d(t.state, t.ver)), fmtD(d(r.state, r.ver)), 'state − --version (its modules, FFI, reading state.json, checking the pid)'],
    ['create beyond start-up', fmtD(d(med(L('tsrunc-noshim', 'create')), t.state)), fmtD(d(med(L('runc', 'create')), r.state)), 'create --no-shim − state: namespaces, mounts, cgroups, the init process'],
    ['  tsrunc-shim on top', fmtD(d(med(L('tsrunc', 'create')), med(L('tsrunc-noshim', 'create')))), '', 'create − create --no-shim'],
    ['start beyond start-up', fmtD(d(med(L('tsrunc-noshim', 'start')), t.state)), fmtD(d(med(L('runc', 'start')), r.state)), 'start − state'],
    ['delete beyond start-up', fmtD(d(med(L('tsrunc-noshim', 'delete')), t.state)), fmtD(d(med(L('runc', 'delete')), r.state)), 'delete − state: cgroup and state removal'],
  ], [0, 3]));
  console.log('');

  if (mem) {
    const m = (name, k) => mem.r[name]?.[k];
    console.log(table([`peak RSS (MiB, median of ${mem.reps})`, 'tsrunc', 'p90', 'runc', 'p90', 'tsrunc/runc'], [
      single('compiled Bun hello world', mem.r.hello, fmtMiB),
      ...[['version', '--version'], ['state', 'state'], ['create', 'create (--no-shim)'], ['start', 'start'], ['delete', 'delete'], ['run', 'run (foreground)']]
        .map(([k, label]) => row(label, m('tsrunc', k), m('runc', k), fmtMiB)),
    ]));
    console.log('(GNU time\'s %M: wait4\'s ru_maxrss, the largest of the process and the children it reaped)');
  } else {
    console.log(`peak RSS: n/a (no GNU time at ${GNU_TIME}: apt-get install time)`);
  }
  console.log('');

  const shimOk = shim.comm === 'tsrunc-shim';
  console.log('supervisor of a detached container (`tsrunc run -d --shim`, sleep 30):');
  console.log(`  tsrunc-shim: pid ${shim.shimPid} comm "${shim.comm}" (parent ${shim.shimParent}; container pid ${shim.containerPid})`
    + `: VmRSS ${shim.rssKb} KiB, VmHWM ${shim.hwmKb} KiB, Pss ${shim.pssKb ?? '?'} KiB, anonymous ${shim.anonKb ?? '?'} KiB`);
  if (!shimOk) console.log(`  warning: the container's parent is "${shim.comm}", not tsrunc-shim`);
  console.log('  runc: none of its own (the container is reparented to the caller\'s subreaper or PID 1)');
  console.log('');

  progress('ctr run --rm (private containerd)');
  const ctr = await measureCtr(rootfs, n);
  let ctrRatio;
  let failed;
  console.log(`ctr run --rm IMAGE ID true, through a private containerd${ctr.version ? ` ${ctr.version}` : ''} (containerd-shim-runc-v2 --runc-binary RT; tsrunc decides no shim under it)`);
  if (ctr.unavailable) {
    console.log(`  n/a: ${ctr.unavailable}`);
  } else if (ctr.failed) {
    failed = `ctr run --rm failed: ${ctr.failed}`;
    console.log(`  FAILED: ${ctr.failed}`);
  } else {
    console.log(table(['wall time (ms)', 'tsrunc', 'p90', 'runc', 'p90', 'tsrunc/runc'], [row('ctr run --rm ... true', ctr.ms.tsrunc, ctr.ms.runc)]));
    ctrRatio = ratio(med(ctr.ms.tsrunc), med(ctr.ms.runc));
    if (ctr.leftovers.length) {
      failed = `ctr run --rm left things behind: ${ctr.leftovers.join(', ')}`;
      console.log(`  warning: ${failed}`);
    }
  }
  console.log('');

  const shimRss = shimOk ? shim.rssKb : undefined;
  console.log(table(['target', 'measured', 'limit', 'result'], [
    target('create→start→delete, --no-shim (engine case)', ratio(med(L('tsrunc-noshim', 'total')), med(L('runc', 'total'))), 1.3),
    target('create→start→delete, with tsrunc-shim (at a shell)', ratio(med(L('tsrunc', 'total')), med(L('runc', 'total'))), 1.3),
    target('state', ratio(t.state, r.state), 2),
    ctr.ms ? target('ctr run --rm', ctrRatio, 1.3) : ['ctr run --rm', ctr.unavailable ? 'n/a' : 'failed', '<= 1.3x', 'n/a'],
    ['tsrunc-shim RSS', shimRss === undefined ? '-' : `${shimRss} KiB`, '< 1024 KiB', shimRss === undefined ? 'n/a' : shimRss < 1024 ? 'PASS' : 'MISS'],
  ]));
  console.log('');
  console.log(`loadavg ${loadavg()} at the end: on a shared machine every number above carries the other tenants' noise.`);
  if (failed) throw new StepError(failed);
}

let code = 0;
try {
  await main();
} catch (err) {
  if (err instanceof Interrupted) {
    process.stderr.write(`bench: interrupted (${err.message})\n`);
    code = 130;
  } else {
    process.stderr.write(`bench: FAILED: ${err instanceof StepError ? err.message : err?.stack ?? err}\n`);
    code = 1;
  }
} finally {
  cleanup();
}
process.exitCode = code;
