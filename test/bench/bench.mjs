#!/usr/bin/env node
/**
 * tsrunc's benchmark: wall time and memory of tsrunc's commands, side by side
 * with runc's, on one busybox bundle.
 *
 *   npm run bench [-- --iterations N]      (or BENCH_ITERATIONS=N npm run bench)
 *
 * Needs root, a built tree (`npm run build`) and a static /bin/busybox (for
 * bundles/make-rootfs.sh). runc is optional: without it only tsrunc is
 * measured. Peak RSS needs GNU time at /usr/bin/time (nothing is installed:
 * without it the memory rows read n/a).
 *
 * What it measures (median and p90 of N runs, after 2 warm-up runs):
 *   - `node -e 0` (the floor of any Node CLI) and `--version`;
 *   - `state ID` of a created container;
 *   - create, start and delete of a container running `true`, each and summed
 *     (the wait for the container to stop is polled with `state` and not counted);
 *   - `run ID` in the foreground;
 *   - peak RSS of each command (/usr/bin/time -f %M);
 *   - the RSS of tsrunc-shim, the process that supervises a detached container.
 *
 * Each runtime gets its own --root under a scratch directory; everything is
 * deleted at the end, also on failure and on Ctrl-C. It is a benchmark, not
 * a test: a missed target still exits 0; a runtime command that fails exits 1.
 *
 * Plain Node ESM, node: builtins only, no build step.
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync,
} from 'node:fs';
import { availableParallelism, cpus, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TSRUNC_JS = join(REPO, 'dist', 'cli', 'main.js');
// The `tsrunc` command: a thin client of the warm tsrunc server (see README, "How tsrunc stays fast").
const TSRUNC = join(REPO, 'addon', 'build', 'tsrunc');
const NODE = process.execPath;
const WARMUP = 2;
const STEP_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

// ---------------------------------------------------------------- options

function usage() {
  return 'usage: node test/bench/bench.mjs [--iterations N]   (env: BENCH_ITERATIONS)\n';
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
const runtimes = [];
/** Containers this run may have created: `${runtime}\0${id}` -> runtime. */
const created = new Map();

const progress = (s) => process.stderr.write(`bench: ${s}\n`);

/** Where `sh -c 'command -v NAME'` finds NAME, if it is an executable file. */
function which(name) {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const p = r.status === 0 ? r.stdout.trim() : '';
  return p.startsWith('/') ? p : undefined;
}

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

/**
 * Runs argv to completion and returns its wall time in ms. Output goes to a
 * file, never a pipe: a container inherits create's (and run's) stdio, and
 * spawnSync would wait for a pipe to close. Throws StepError on a failure.
 */
async function timed(argv, { allowFail = false } = {}) {
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
  if (interrupted) throw new Interrupted(interrupted);
  if (!allowFail && (r.error || r.status !== 0)) {
    const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
    throw new StepError(`\`${describe(argv)}\` failed (${why})${tail(logFile) ? `:\n${tail(logFile)}` : ''}`);
  }
  return Number(t1 - t0) / 1e6;
}

/** Runs argv and returns its stdout (for `state`, which starts no process that could hold a pipe). */
async function output(argv) {
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: STEP_TIMEOUT_MS, killSignal: 'SIGKILL' });
  await tick();
  if (interrupted) throw new Interrupted(interrupted);
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
const newId = (rt, what) => `bench-${process.pid}-${rt.name}-${what}-${++idCounter}`;

/** Median and p90 (nearest rank) of a list of numbers. */
function stats(xs) {
  if (!xs || xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const rank = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { median, p90: rank(0.9), min: s[0], n: s.length };
}

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
      if (cmdline.includes(scratch)) found.push({ pid: Number(e), cmdline });
    } catch { /* gone */ }
  }
  return found;
}

function mountsUnder(dir) {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(dir));
}

// ---------------------------------------------------------------- cleanup

let cleaned = false;

/** Synchronous and idempotent: runs from finally, from signal handlers and on exit. */
function cleanup() {
  if (cleaned || !scratch) return;
  cleaned = true;
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
    spawnSync('sleep', ['0.05']);
    stray = strayProcesses();
  }
  for (const p of stray) {
    process.stderr.write(`bench: cleanup: killing leftover process ${p.pid} (${p.cmdline})\n`);
    try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
  }
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

/** VmRSS of the running tsrunc server(s) of this build, for the record. */
function serverRss() {
  const found = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(join(REPO, 'dist', 'server', 'main.js'))) continue;
      const rss = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      found.push(`pid ${pid} VmRSS ${(Number(rss) / 1024).toFixed(1)} MiB`);
    } catch {
      // gone
    }
  }
  return found.length ? found.join(', ') : undefined;
}

function makeRuntime(name, exe, prefix) {
  const root = join(scratch, `root-${name}`);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  return { name, root, version: [exe, ...prefix, '--version'], cmd: (...args) => [exe, ...prefix, '--root', root, ...args] };
}

function machineInfo(runc) {
  const line = (argv) => {
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim().split('\n')[0] : 'unknown';
  };
  const cg = existsSync('/sys/fs/cgroup/cgroup.controllers') ? 'v2 (unified)' : 'v1';
  return [
    ['node', `${process.version} (${NODE})`],
    ['tsrunc', `${line([TSRUNC, '--version'])} (${TSRUNC}, warm server; in-process: ${NODE} ${TSRUNC_JS})`],
    ['runc', runc ? `${line([runc, '--version'])} (${runc})` : 'not installed: measuring tsrunc only'],
    ['nproc', String(availableParallelism())],
    ['cpu', cpus()[0]?.model ?? 'unknown'],
    ['kernel', `${release()}, cgroup ${cg}`],
  ];
}

function makeBundles() {
  const bundle = join(scratch, 'bundle');
  const rootfs = join(bundle, 'rootfs');
  mkdirSync(bundle);
  const mk = spawnSync(join(REPO, 'bundles', 'make-rootfs.sh'), [rootfs], { encoding: 'utf8' });
  if (mk.status !== 0) throw new StepError(`make-rootfs.sh failed:\n${(mk.stderr || mk.stdout).trimEnd()}`);
  const sp = spawnSync(NODE, [TSRUNC_JS, 'spec', '-b', bundle], { encoding: 'utf8' });
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
  return { bundle, sleeper };
}

// ---------------------------------------------------------------- measurements

/** Runs fn(rt, i) for every runtime, WARMUP + n times, alternating which runtime goes first. */
async function rounds(rts, n, label, fn) {
  for (let i = -WARMUP; i < n; i++) {
    const order = i % 2 === 0 ? rts : [...rts].reverse();
    for (const rt of order) await fn(rt, i);
    if (i >= 0 && (i + 1) % 5 === 0) progress(`${label}: ${i + 1}/${n}`);
  }
}

async function measureFloor(runc, n) {
  const r = { node: [], tsrunc: [], runc: [] };
  const cmds = [['node', [NODE, '-e', '0']], ['tsrunc', [TSRUNC, '--version']]];
  if (runc) cmds.push(['runc', [runc, '--version']]);
  for (let i = -WARMUP; i < n; i++) {
    for (const [k, argv] of cmds) {
      const ms = await timed(argv);
      if (i >= 0) r[k].push(ms);
    }
  }
  return r;
}

async function measureState(rts, bundle, n) {
  const r = {};
  const ids = {};
  for (const rt of rts) {
    ids[rt.name] = newId(rt, 'state');
    track(rt, ids[rt.name]);
    await timed(rt.cmd('create', '-b', bundle, ids[rt.name]));
    r[rt.name] = [];
  }
  await rounds(rts, n, 'state', async (rt, i) => {
    const ms = await timed(rt.cmd('state', ids[rt.name]));
    if (i >= 0) r[rt.name].push(ms);
  });
  for (const rt of rts) {
    await timed(rt.cmd('delete', '--force', ids[rt.name]));
    untrack(rt, ids[rt.name]);
  }
  return r;
}

/** create → start → (wait for stopped, not counted) → delete; variants: [name, runtime, extra create flags]. */
async function measureLifecycle(variants, bundle, n) {
  const r = {};
  for (const [name] of variants) r[name] = { create: [], start: [], delete: [], total: [] };
  const pidFile = join(scratch, 'pid');
  const byName = new Map(variants.map((v) => [v[0], v]));
  await rounds(variants.map((v) => v[0]), n, 'create/start/delete', async (name, i) => {
    const [, rt, flags] = byName.get(name);
    const id = newId(rt, 'life');
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
  const r = {};
  for (const rt of rts) r[rt.name] = [];
  await rounds(rts, n, 'run', async (rt, i) => {
    const id = newId(rt, 'run');
    track(rt, id);
    const ms = await timed(rt.cmd('run', '-b', bundle, id));
    if (i >= 0) r[rt.name].push(ms);
  });
  // A foreground run deletes its container; check, and forget the ids.
  for (const [key, rt] of [...created.entries()]) {
    const id = key.split('\0')[1];
    if (!id.includes('-run-')) continue;
    if (existsSync(join(rt.root, id))) throw new StepError(`${rt.name}: \`run ${id}\` left its container behind`);
    untrack(rt, id);
  }
  return r;
}

/** Peak RSS (KiB) of one command, with GNU time. */
async function peakRss(time, argv) {
  const out = join(scratch, 'time.out');
  await timed([time, '-f', '%M', '-o', out, ...argv]);
  const last = readFileSync(out, 'utf8').trim().split('\n').pop();
  const kb = Number(last);
  if (!Number.isFinite(kb)) throw new StepError(`${time} wrote ${JSON.stringify(last)}, not a number of KiB`);
  return kb;
}

async function measureMemory(time, rts, bundle, n) {
  const reps = Math.min(n, 5);
  const r = { node: [], version: {} };
  const get = (rt, k) => ((r[rt.name] ??= {})[k] ??= []);
  for (let i = 0; i < reps; i++) {
    r.node.push(await peakRss(time, [NODE, '-e', '0']));
    for (const rt of rts) {
      get(rt, 'version').push(await peakRss(time, rt.version));
      const id = newId(rt, 'mem');
      track(rt, id);
      get(rt, 'create').push(await peakRss(time, rt.cmd('create', '-b', bundle, id)));
      get(rt, 'state').push(await peakRss(time, rt.cmd('state', id)));
      get(rt, 'start').push(await peakRss(time, rt.cmd('start', id)));
      await waitStopped(rt, id);
      get(rt, 'delete').push(await peakRss(time, rt.cmd('delete', id)));
      untrack(rt, id);
      const runId = newId(rt, 'memrun');
      track(rt, runId);
      get(rt, 'run').push(await peakRss(time, rt.cmd('run', '-b', bundle, runId)));
      untrack(rt, runId);
    }
  }
  return r;
}

async function measureShim(ts, sleeper) {
  const id = newId(ts, 'shim');
  track(ts, id);
  await timed(ts.cmd('run', '-d', '--shim', '-b', sleeper, id));
  try {
    const s = await stateOf(ts, id);
    if (s.status !== 'running' || !s.pid) throw new StepError(`tsrunc: container ${id} is ${s.status} (pid ${s.pid}), not running`);
    await sleep(200); // let the shim settle into its wait
    const shimPid = procStat(s.pid).ppid;
    const comm = readFileSync(`/proc/${shimPid}/comm`, 'utf8').trim();
    const shimParent = procStat(shimPid).ppid;
    return {
      containerPid: s.pid, shimPid, comm, shimParent,
      rssKb: procStatusKb(shimPid, 'VmRSS'), hwmKb: procStatusKb(shimPid, 'VmHWM'),
      pssKb: smapsKb(shimPid, 'Pss'), anonKb: smapsKb(shimPid, 'Anonymous'),
    };
  } finally {
    await timed(ts.cmd('delete', '--force', id));
    untrack(ts, id);
  }
}

// ---------------------------------------------------------------- report

const fmtMs = (x) => (x === undefined ? '-' : x.toFixed(1));
const fmtMiB = (kb) => (kb === undefined ? '-' : (kb / 1024).toFixed(1));

function table(header, rows) {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => String(r[i] ?? '').length)));
  const line = (r) => r.map((c, i) => (i === 0 ? String(c ?? '').padEnd(widths[i]) : String(c ?? '').padStart(widths[i]))).join('   ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('   '), ...rows.map(line)].join('\n');
}

/** One row: metric, tsrunc median/p90, runc median/p90, ratio of medians. */
function row(metric, ts, rc, fmt = fmtMs) {
  const a = stats(ts);
  const b = stats(rc);
  const ratio = a && b && b.median > 0 ? `${(a.median / b.median).toFixed(2)}x` : '-';
  return [metric, fmt(a?.median), fmt(a?.p90), fmt(b?.median), fmt(b?.p90), ratio];
}

const verdict = (ok) => (ok === undefined ? 'n/a' : ok ? 'PASS' : 'MISS');

// ---------------------------------------------------------------- main

async function main() {
  const { iterations: n } = parseOptions(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new StepError('needs root (it creates containers)');
  for (const f of ['dist/cli/main.js', 'dist/server/main.js', 'addon/build/tsrunc', 'addon/build/tsrunc-init', 'addon/build/tsrunc-shim']) {
    if (!existsSync(join(REPO, f))) throw new StepError(`${f} is missing: run \`npm run build\` first`);
  }
  const runc = which('runc');
  let time = which('/usr/bin/time') ?? which('time');
  if (time && spawnSync(time, ['-f', '%M', 'true'], { encoding: 'utf8' }).stderr?.trim().match(/^\d+$/) === null) time = undefined;

  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, onSignal);
  process.on('exit', cleanup);
  scratch = mkdtempSync(join(tmpdir(), 'tsrunc-bench-'));
  logFile = join(scratch, 'command.log');

  const info = machineInfo(runc);
  console.log('tsrunc benchmark');
  const w = Math.max(...info.map(([k]) => k.length));
  for (const [k, v] of info) console.log(`${k.padEnd(w)}  ${v}`);
  console.log(`iterations: ${n} (after ${WARMUP} warm-up runs); times are wall-clock ms, median and p90`);
  if (!runc) console.log('runc is not installed: measuring tsrunc only');
  console.log('');

  progress(`scratch directory ${scratch}`);
  const { bundle, sleeper } = makeBundles();
  const ts = makeRuntime('tsrunc', TSRUNC, []);
  // The same commands without the warm server: one Node process per call.
  const tsNode = makeRuntime('tsrunc-node', NODE, [TSRUNC_JS]);
  runtimes.push(ts, tsNode);
  let rc;
  if (runc) {
    rc = makeRuntime('runc', runc, []);
    runtimes.push(rc);
  }

  progress('node -e 0 and --version');
  const floor = await measureFloor(runc, n);
  progress('state');
  const state = await measureState(runtimes, bundle, n);
  progress('create/start/delete');
  const variants = [['tsrunc', ts, []], ['tsrunc-noshim', ts, ['--no-shim']], ['tsrunc-node', tsNode, ['--no-shim']]];
  if (rc) variants.push(['runc', rc, []]);
  const life = await measureLifecycle(variants, bundle, n);
  progress('run (foreground)');
  const run = await measureRun(runtimes, bundle, n);
  let mem;
  if (time) {
    progress(`peak RSS (${time} -f %M)`);
    mem = await measureMemory(time, runtimes, bundle, n);
  }
  progress('tsrunc-shim RSS');
  const shim = await measureShim(ts, sleeper);

  const L = (v, k) => life[v]?.[k];
  const rows = [
    row('node -e 0 (floor of a Node CLI)', floor.node, undefined),
    row('--version', floor.tsrunc, floor.runc),
    row('state (created container)', state.tsrunc, state.runc),
    row('create', L('tsrunc', 'create'), L('runc', 'create')),
    row('start', L('tsrunc', 'start'), L('runc', 'start')),
    row('delete (stopped container)', L('tsrunc', 'delete'), L('runc', 'delete')),
    row('create+start+delete (sum)', L('tsrunc', 'total'), L('runc', 'total')),
    row('create --no-shim (as under an engine)', L('tsrunc-noshim', 'create'), L('runc', 'create')),
    row('create+start+delete --no-shim (sum)', L('tsrunc-noshim', 'total'), L('runc', 'total')),
    row('run (foreground, `true`)', run.tsrunc, run.runc),
    row('in-process (no server): state', state['tsrunc-node'], state.runc),
    row('in-process (no server): create+start+delete', L('tsrunc-node', 'total'), L('runc', 'total')),
    row('in-process (no server): run', run['tsrunc-node'], run.runc),
  ];
  console.log(table(['wall time (ms)', 'tsrunc', 'p90', 'runc', 'p90', 'tsrunc/runc'], rows));
  console.log('');

  if (mem) {
    const reps = mem.node.length;
    const m = (rt, k) => mem[rt]?.[k];
    const memRows = [
      row('node -e 0', mem.node, undefined, fmtMiB),
      ...['version', 'state', 'create', 'start', 'delete', 'run'].map((k) => row(k === 'version' ? '--version' : k, m('tsrunc', k), m('runc', k), fmtMiB)),
    ];
    console.log(table([`peak RSS (MiB, median of ${reps})`, 'tsrunc', 'p90', 'runc', 'p90', 'tsrunc/runc'], memRows));
  } else {
    console.log('peak RSS: n/a (no GNU time at /usr/bin/time; nothing is installed)');
  }
  console.log('');

  const shimOk = shim.comm === 'tsrunc-shim';
  console.log('supervisor of a detached container (`run -d --shim`, sleep 30):');
  console.log(`  tsrunc: pid ${shim.shimPid} comm "${shim.comm}" (parent ${shim.shimParent}; container pid ${shim.containerPid})`
    + `: VmRSS ${shim.rssKb} KiB, VmHWM ${shim.hwmKb} KiB, Pss ${shim.pssKb ?? '?'} KiB, anonymous ${shim.anonKb ?? '?'} KiB`);
  if (!shimOk) console.log(`  warning: the container's parent is "${shim.comm}", not tsrunc-shim`);
  console.log('  runc: none of its own (the container is reparented to the caller\'s subreaper or PID 1)');
  console.log('  reference: conmon ~1.9 MB, containerd-shim-runc-v2 ~13 MB (measured elsewhere)');
  const server = serverRss();
  console.log(`the warm tsrunc server (one Node process serving every call; exits when idle): ${server ?? 'not running'}`);
  console.log('');

  const med = (xs) => stats(xs)?.median;
  const lifeRatio = rc ? med(L('tsrunc', 'total')) / med(L('runc', 'total')) : undefined;
  const lifeRatioNoShim = rc ? med(L('tsrunc-noshim', 'total')) / med(L('runc', 'total')) : undefined;
  const stateRatio = med(state.tsrunc) / med(floor.node);
  const targets = [
    ['create→start→delete total within 4x runc', lifeRatio === undefined ? 'n/a (no runc)' : `${lifeRatio.toFixed(2)}x`, verdict(lifeRatio === undefined ? undefined : lifeRatio <= 4)],
    ['  (same, create --no-shim)', lifeRatioNoShim === undefined ? 'n/a (no runc)' : `${lifeRatioNoShim.toFixed(2)}x`, verdict(lifeRatioNoShim === undefined ? undefined : lifeRatioNoShim <= 4)],
    ['`tsrunc state` within 1.3x of `node -e 0`', `${stateRatio.toFixed(2)}x`, verdict(stateRatio <= 1.3)],
    ['tsrunc-shim RSS under 1 MiB', `${shim.rssKb} KiB`, verdict(shimOk && shim.rssKb !== undefined ? shim.rssKb < 1024 : undefined)],
  ];
  console.log(table(['target (from the issue)', 'measured', 'result'], targets));
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
