import { spawn, execFileSync } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, afterEach, inject } from 'vitest';
import { defaultSpec } from '../../src/spec/defaults';
import type { Spec } from '../../src/spec/types';

export const repo = join(__dirname, '..', '..');
/** The `tsrunc` command: the executable compiled with Bun (npm run build:bin). */
export const TSRUNC = join(repo, 'addon', 'build', 'tsrunc');
export const isRoot = () => inject('isRoot');

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** Extra fds for the child, from fd 3 on. */
  extraFds?: number[];
  /** 'null': stdin is /dev/null instead of a pipe (Node makes that pipe a socketpair). */
  stdin?: 'null';
}

/**
 * Runs a program, collecting its output; never rejects on a non-zero exit.
 * Output goes through files, not pipes: a container inherits the stdio of
 * `tsrunc create`, so a pipe would stay open as long as the container lives.
 */
export async function exec(cmd: string, args: string[], o: RunOptions = {}): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'tsrunc-exec-'));
  const out = openSync(join(dir, 'out'), 'w+');
  const err = openSync(join(dir, 'err'), 'w+');
  try {
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      const child = spawn(cmd, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: [o.stdin === 'null' ? 'ignore' : 'pipe', out, err, ...(o.extraFds ?? [])] });
      const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 30_000);
      child.on('error', reject);
      child.on('exit', (c, s) => {
        clearTimeout(timer);
        resolve({ code: c, signal: s });
      });
      child.stdin?.on('error', () => {});
      child.stdin?.end(o.input ?? '');
    });
    return { code, signal, stdout: readFileSync(join(dir, 'out'), 'utf8'), stderr: readFileSync(join(dir, 'err'), 'utf8') };
  } finally {
    closeSync(out);
    closeSync(err);
    rmSync(dir, { recursive: true, force: true });
  }
}

let counter = 0;

/**
 * The part of every container id that names this test run (the random suffix
 * of its scratch directory): global-setup.ts looks for cgroups and state
 * carrying it after the run, without mistaking another run's for ours.
 */
export function runToken(): string {
  return basename(inject('work')).replace(/^tsrunc-test-/, '');
}

/**
 * One per test file: a state root of its own, unique container ids, bundles
 * with their own copy of the busybox rootfs. Every container it named is
 * deleted after each test, whether the test passed or not.
 */
export class Harness {
  readonly root: string;
  readonly dir: string;
  private ids: string[] = [];

  constructor(readonly name: string) {
    this.dir = join(inject('work'), `${name}-${process.pid}`);
    this.root = join(this.dir, 'state');
    mkdirSync(this.dir, { recursive: true });
    afterEach(() => this.cleanup());
    afterAll(() => {
      // A container whose delete failed still has state here: say so before the directory goes.
      const left = this.leftovers();
      rmSync(this.dir, { recursive: true, force: true });
      if (left.length) throw new Error(`${name}: containers left after their tests (delete --force failed): ${left.join(' ')}`);
    });
  }

  /** A unique container id, deleted after the test. */
  id(prefix = 'c'): string {
    const id = `tsrt-${prefix}-${runToken()}-${process.pid}-${++counter}`;
    this.ids.push(id);
    return id;
  }

  /** A config like `tsrunc spec` writes, without a terminal and with a writable root, running args. */
  spec(args: string[] = ['true'], edit?: (s: Spec) => void): Spec {
    const s = defaultSpec();
    s.process!.terminal = false;
    s.process!.args = args;
    s.root!.readonly = false;
    edit?.(s);
    return s;
  }

  /** A bundle directory holding config and a fresh rootfs (writable, so tests may change it). */
  bundle(spec: Spec | string): string {
    const b = join(this.dir, `bundle-${++counter}`);
    mkdirSync(b);
    cpSync(join(inject('work'), 'rootfs'), join(b, 'rootfs'), { recursive: true, verbatimSymlinks: true });
    writeFileSync(join(b, 'config.json'), typeof spec === 'string' ? spec : JSON.stringify(spec, null, 2));
    return b;
  }

  /** tsrunc with this file's --root. */
  tsrunc(args: string[], o: RunOptions = {}): Promise<Result> {
    return exec(TSRUNC, ['--root', this.root, ...args], o);
  }

  /** Runs a container in the foreground and returns what it printed and its exit status. */
  async run(spec: Spec, o: RunOptions & { flags?: string[] } = {}): Promise<Result & { id: string; bundle: string }> {
    const bundle = this.bundle(spec);
    const id = this.id();
    const r = await this.tsrunc(['run', '-b', bundle, ...(o.flags ?? []), id], o);
    return { ...r, id, bundle };
  }

  /** create (without the shim, as under an engine unless flags say otherwise) and check it worked. */
  async create(spec: Spec, flags: string[] = ['--no-shim'], o: RunOptions = {}): Promise<{ id: string; bundle: string; pid: number }> {
    const bundle = this.bundle(spec);
    const id = this.id();
    const r = await this.tsrunc(['create', '-b', bundle, ...flags, id], o);
    if (r.code !== 0) throw new Error(`create failed (${r.code}): ${r.stderr}`);
    const state = JSON.parse((await this.tsrunc(['state', id])).stdout);
    return { id, bundle, pid: state.pid };
  }

  async state(id: string): Promise<Record<string, unknown>> {
    const r = await this.tsrunc(['state', id]);
    if (r.code !== 0) throw new Error(`state failed: ${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  /** The container ids that still have state under this root. */
  leftovers(): string[] {
    return existsSync(this.root) ? readdirSync(this.root) : [];
  }

  async cleanup(): Promise<void> {
    const ids = this.ids.splice(0);
    for (const id of ids) await this.tsrunc(['delete', '--force', id]);
  }
}

/** Cgroup directories named after id anywhere under /sys/fs/cgroup (leak check). */
export function cgroupDirsOf(id: string): string[] {
  const out = execFileSync('find', ['/sys/fs/cgroup', '-maxdepth', '4', '-type', 'd', '-name', id], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}

/** True when pid has ended: gone, or a zombie its parent has not collected yet. */
export function gone(pid: number): boolean {
  try {
    return /\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** Polls cond until it holds; a cond that throws (a container not there yet) has simply not held yet. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await cond()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for a condition${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
