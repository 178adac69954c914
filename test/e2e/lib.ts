/**
 * The end-to-end suite's tools: running programs, the engines' daemons in a
 * scratch directory of their own, cgroup and process probes, cleanup.
 *
 * The runtime under test is E2E_RUNTIME (default: this build's tsrunc). Run
 * the suite with E2E_RUNTIME=/usr/sbin/runc to check that it tests the
 * engines rather than tsrunc's own assumptions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inject } from 'vitest';
import { isAtOrBelow, mountPointsOf } from '../../src/linux/mounts';

export const repo = resolve(__dirname, '..', '..');
/** The runtime binary every engine is pointed at. */
export const RUNTIME = resolve(process.env.E2E_RUNTIME ?? join(repo, 'addon', 'build', 'tsrunc'));
/** The name the runtime is registered under in dockerd and containerd's CRI config. */
export const RUNTIME_NAME = 'tsrunc';
/** Debian's docker client (another `docker` may be earlier on PATH). */
export const DOCKER = '/usr/bin/docker';
/** The image every engine loads: busybox-static, made by the global setup. */
export const IMAGE = 'e2e/busybox:latest';
/** The same rootfs with `sleep` as its default command: the CRI pod sandbox image. */
export const PAUSE_IMAGE = 'e2e/pause:latest';

/** The suite's scratch directory (global setup) and the image archive in it. */
export const work = (): string => inject('e2eWork');
export const imageTar = (): string => join(work(), 'image.tar');
export const rootfsTar = (): string => join(work(), 'rootfs.tar');

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
}

export interface Running {
  child: ChildProcess;
  result: Promise<Result>;
}

/**
 * Starts a program with its output going to files (not pipes: a container
 * may inherit them and keep them open long after the program exits). The
 * program is SIGKILLed after timeoutMs (default 60 s), which counts as a
 * failure (timedOut).
 */
export function start(cmd: string, args: string[], o: RunOptions = {}): Running {
  const dir = mkdtempSync(join(tmpdir(), 'tsrunc-e2e-out-'));
  const out = openSync(join(dir, 'out'), 'w+');
  const err = openSync(join(dir, 'err'), 'w+');
  const child = spawn(cmd, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: ['pipe', out, err] });
  const result = new Promise<Result>((resolvePromise, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, o.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const r = { code, signal, timedOut, stdout: readFileSync(join(dir, 'out'), 'utf8'), stderr: readFileSync(join(dir, 'err'), 'utf8') };
      closeSync(out);
      closeSync(err);
      rmSync(dir, { recursive: true, force: true });
      resolvePromise(r);
    });
  });
  child.stdin!.on('error', () => {});
  child.stdin!.end(o.input ?? '');
  return { child, result };
}

/** Runs a program to its end; never rejects on a non-zero exit. */
export function run(cmd: string, args: string[], o: RunOptions = {}): Promise<Result> {
  return start(cmd, args, o).result;
}

/** Like run, but throws (with the output) unless the program exits 0. */
export async function ok(cmd: string, args: string[], o: RunOptions = {}): Promise<Result> {
  const r = await run(cmd, args, o);
  if (r.code !== 0) throw new Error(`${describe(cmd, args)} failed: ${show(r)}`);
  return r;
}

export function describe(cmd: string, args: string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export function show(r: Result): string {
  return `exit ${r.code ?? r.signal}${r.timedOut ? ' (timed out)' : ''}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

/** A shell-quoted command line, for `script -c`. */
export const quote = (args: string[]): string => describe(args[0], args.slice(1));

/**
 * Runs args on a pseudo-terminal through util-linux `script` (as a person
 * at a terminal would), returning what appeared on it and the exit code of
 * args. Output uses \r\n line ends.
 */
export function onTerminal(args: string[], o: RunOptions = {}): Promise<Result> {
  return run('script', ['-qefc', quote(args), '/dev/null'], o);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

// ---------------------------------------------------------------- processes

function stat(pid: number): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** True while pid exists and is not a zombie. */
export function alive(pid: number): boolean {
  const s = stat(pid);
  return !!s && s[0] !== 'Z' && s[0] !== 'X';
}

export function ppidOf(pid: number): number {
  const s = stat(pid);
  if (!s) throw new Error(`no process ${pid}`);
  return Number(s[1]);
}

export function commOf(pid: number): string {
  return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
}

/** Every process whose command line mentions text (leak checks). */
export function processesMentioning(text: string): { pid: number; args: string }[] {
  const found: { pid: number; args: string }[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const args = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (args.includes(text) && alive(Number(e))) found.push({ pid: Number(e), args });
    } catch {
      /* gone */
    }
  }
  return found;
}

/** The children of pid (from /proc/PID/task/PID/children). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------- cgroups

/** The cgroup directory of pid for a v1 controller, or its v2 directory when the controller is on v2 (or none is given). */
export function cgroupDir(pid: number, controller?: string): { dir: string; v2: boolean } {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  if (controller) {
    for (const l of lines) {
      const [, ctrls, path] = l.split(':');
      if (ctrls.split(',').includes(controller)) {
        const base = existsSync(`/sys/fs/cgroup/${ctrls}`) ? `/sys/fs/cgroup/${ctrls}` : `/sys/fs/cgroup/${controller}`;
        return { dir: join(base, path), v2: false };
      }
    }
  }
  const v2 = lines.find((l) => l.startsWith('0::'));
  if (!v2) throw new Error(`pid ${pid} has no ${controller ?? 'v2'} cgroup`);
  const base = existsSync('/sys/fs/cgroup/unified') ? '/sys/fs/cgroup/unified' : '/sys/fs/cgroup';
  return { dir: join(base, v2.slice(3)), v2: true };
}

/** The memory limit of pid's cgroup in bytes (v1 memory.limit_in_bytes or v2 memory.max). */
export function memoryLimit(pid: number): string {
  const { dir, v2 } = cgroupDir(pid, 'memory');
  return readFileSync(join(dir, v2 ? 'memory.max' : 'memory.limit_in_bytes'), 'utf8').trim();
}

/** cpu.shares (v1), or cpu.weight (v2, which engines convert shares to). */
export function cpuShares(pid: number): string {
  const { dir, v2 } = cgroupDir(pid, 'cpu');
  return readFileSync(join(dir, v2 ? 'cpu.weight' : 'cpu.shares'), 'utf8').trim();
}

/** Whether pid's cgroup is frozen (v1 freezer.state FROZEN, v2 cgroup.events frozen 1). */
export function frozen(pid: number): boolean {
  const { dir, v2 } = cgroupDir(pid, 'freezer');
  if (v2) return /^frozen 1$/m.test(readFileSync(join(dir, 'cgroup.events'), 'utf8'));
  return readFileSync(join(dir, 'freezer.state'), 'utf8').trim() === 'FROZEN';
}

/** The process's scheduler state letter from /proc (R, S, D, T, Z...). */
export function procState(pid: number): string | undefined {
  return stat(pid)?.[0];
}

// ---------------------------------------------------------------- mounts

/** Mount points at or under dir. */
export function mountsUnder(dir: string): string[] {
  return mountPointsOf(readFileSync('/proc/self/mountinfo', 'utf8')).filter((m) => isAtOrBelow(m, dir));
}

/** Unmounts (lazily, deepest first) everything at or under dir. */
export async function unmountUnder(dir: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const ms = mountsUnder(dir).sort((a, b) => b.length - a.length);
    if (!ms.length) return;
    for (const m of ms) await run('umount', ['-l', m]);
  }
}

// ---------------------------------------------------------------- daemons

/** A daemon started by the suite: its own process group, output to a log file. */
export class Daemon {
  readonly child: ChildProcess;
  private exited: Promise<void>;
  exitStatus: string | undefined;

  constructor(
    readonly name: string,
    cmd: string,
    args: string[],
    readonly log: string,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    const fd = openSync(log, 'a');
    this.child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env, detached: true });
    closeSync(fd);
    this.exited = new Promise((r) => {
      this.child.on('exit', (code, sig) => {
        this.exitStatus = `${code ?? sig}`;
        r();
      });
      this.child.on('error', (e) => {
        this.exitStatus = String(e);
        r();
      });
    });
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(this.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Waits until ready() is true; fails loudly, with the daemon's log, if it exits or takes too long. */
  async ready(ready: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exitStatus !== undefined) throw new Error(`${this.name} could not start (exit ${this.exitStatus}); its log:\n${this.logTail()}`);
      if (await ready()) return;
      if (Date.now() > deadline) throw new Error(`${this.name} did not become ready in ${timeoutMs} ms; its log:\n${this.logTail()}`);
      await sleep(100);
    }
  }

  /** SIGTERM, then SIGKILL to the process group after timeoutMs. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (this.exitStatus !== undefined) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => {
      try {
        process.kill(-this.child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutMs);
    await this.exited;
    clearTimeout(t);
  }
}

/** Kills (by pid) the processes started under an engine that mention marker and outlived it; returns what it found. */
export async function killLeftovers(marker: string): Promise<string[]> {
  const found = processesMentioning(marker);
  for (const p of found) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  return found.map((p) => `${p.pid} ${p.args}`);
}

// ---------------------------------------------------------------- the runtime

/** The runtime's own `list` under root: the ids it still has state for. */
export async function runtimeIds(root: string): Promise<string[]> {
  if (!existsSync(root)) return [];
  const r = await run(RUNTIME, ['--root', root, 'list', '-q']);
  if (r.code !== 0) throw new Error(`${RUNTIME} --root ${root} list failed: ${show(r)}`);
  return r.stdout.split('\n').filter(Boolean);
}

/** A fresh directory for one test file under the suite's scratch directory. */
export function scratch(name: string): string {
  const d = mkdtempSync(join(work(), `${name}-`));
  mkdirSync(d, { recursive: true });
  return d;
}

export function writeJson(path: string, v: unknown): void {
  writeFileSync(path, JSON.stringify(v, null, 2) + '\n');
}

/** Whether pid has a handler for signal number sig (SigCgt in /proc/PID/status). */
export function catches(pid: number, sig: number): boolean {
  try {
    const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return !!m && ((BigInt(`0x${m[1]}`) >> BigInt(sig - 1)) & 1n) === 1n;
  } catch {
    return false;
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * A wrapper around RUNTIME that appends each command line it is called with
 * to a log, then execs RUNTIME (same pid, same parent): for the few flows
 * whose outcome would look the same whether or not the engine made a given
 * call (kill --all). Named `<RUNTIME_NAME>-logged`.
 */
export class LoggedRuntime {
  readonly path: string;
  readonly log: string;
  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, `${RUNTIME_NAME}-logged`);
    this.log = join(dir, 'calls.log');
    writeFileSync(this.path, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${this.log}'\nexec '${RUNTIME}' "$@"\n`, { mode: 0o755 });
  }

  calls(): string[] {
    return existsSync(this.log) ? readFileSync(this.log, 'utf8').split('\n').filter(Boolean) : [];
  }
}
