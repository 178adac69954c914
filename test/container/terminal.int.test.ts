import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Harness, TSRUNC, isRoot, repo, waitFor, exec } from '../helpers/harness';
import type { Spec } from '../../src/spec/types';

const h = new Harness('terminal');
const RECEIVER = join(repo, 'test', 'helpers', 'console-receiver.py');

interface Received { data: string; fds: number; link: string; ptn: number; size: [number, number]; output: string }

/** Starts the console-socket receiver and resolves once it listens; `result` resolves with what it saw. */
async function receiver(command: string): Promise<{ socket: string; result: Promise<Received> }> {
  const socket = join(h.dir, `console-${Date.now()}-${Math.random().toString(36).slice(2)}.sock`);
  const child = spawn('python3', [RECEIVER, socket, command], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const ready = new Promise<void>((resolve) => child.stdout!.on('data', (d) => {
    out += d;
    if (out.startsWith('ready\n')) resolve();
  }));
  const result = new Promise<Received>((resolve, reject) => {
    child.on('close', () => {
      try {
        resolve(JSON.parse(out.slice('ready\n'.length)) as Received);
      } catch {
        reject(new Error(`console receiver printed: ${out}`));
      }
    });
  });
  const timer = setTimeout(() => child.kill(), 30_000);
  result.finally(() => clearTimeout(timer)).catch(() => {});
  await ready;
  return { socket, result };
}

/** Runs a command line under `script`, so that tsrunc's stdin/stdout are a real terminal; feeds it input. */
async function underScript(commandLine: string, input: string): Promise<{ code: number | null; output: string }> {
  const r = await exec('script', ['-qfec', commandLine, '/dev/null'], { input, timeoutMs: 30_000 });
  return { code: r.code, output: r.stdout.replace(/\r/g, '') };
}

const ttySpec = (edit?: (s: Spec) => void) => h.spec(['sh'], (s) => {
  s.process!.terminal = true;
  s.process!.consoleSize = { height: 40, width: 132 };
  edit?.(s);
});

describe.skipIf(!isRoot())('terminals (root)', () => {
  it('--console-socket receives the pty master by SCM_RIGHTS; its slave is the container\'s stdio and controlling terminal', async () => {
    const { socket, result } = await receiver('tty; ls -l /proc/self/fd/0 /proc/self/fd/1; stty -a | head -1; echo sid=$(cut -d" " -f6 /proc/self/stat) pid=$$; exit 3');
    const bundle = h.bundle(ttySpec());
    const id = h.id();
    const created = await h.tsrunc(['create', '--no-shim', '--console-socket', socket, '-b', bundle, id]);
    expect(created.code).toBe(0);
    expect((await h.tsrunc(['start', id])).code).toBe(0);
    const got = await result;
    expect(got.fds).toBe(1);
    expect(got.link).toMatch(/^\/dev\/pts\/ptmx$|ptmx/);
    expect(got.size).toEqual([40, 132]);
    const out = got.output.replace(/\r/g, '');
    expect(out).toContain('/dev/pts/0');
    expect(out).toMatch(/\/proc\/self\/fd\/0 -> \/dev\/pts\/0/);
    expect(out).toMatch(/rows 40; columns 132/);
    // The shell is a session leader (setsid) with the pty as its controlling terminal.
    expect(out).toMatch(/sid=1 pid=1/);
    await waitFor(async () => (await h.state(id)).status === 'stopped');
  });

  it('run -t in the foreground relays the terminal and returns the exit code', async () => {
    const bundle = h.bundle(ttySpec());
    const id = h.id();
    const r = await underScript(`${TSRUNC} --root ${h.root} run -b ${bundle} ${id}`, 'tty; echo answer-$((6*7)); exit 5\n');
    expect(r.output).toContain('/dev/pts/0');
    expect(r.output).toContain('answer-42');
    expect(r.code).toBe(5);
    expect(h.leftovers()).not.toContain(id);
  });

  it('run -t: Ctrl-C reaches the container as SIGINT through the terminal', async () => {
    const bundle = h.bundle(ttySpec((s) => { s.process!.args = ['sh', '-c', 'trap "echo got-sigint; exit 7" INT; echo ready; while :; do sleep 0.1; done']; }));
    const id = h.id();
    // script runs tsrunc on a pty; \x03 typed there is Ctrl-C: the container's terminal (raw relay) turns it into SIGINT.
    const r = await exec('sh', ['-c', `(sleep 1.5; printf '\\003'; sleep 2) | script -qfec "${TSRUNC} --root ${h.root} run -b ${bundle} ${id}" /dev/null`], { timeoutMs: 30_000 });
    expect(r.stdout.replace(/\r/g, '')).toContain('got-sigint');
    expect(r.code).toBe(7); // script -e passes on tsrunc's status, which is the container's: the trap's exit 7
    expect(h.leftovers()).not.toContain(id);
  });

  it('exec -t relays a terminal too; exec --console-socket sends the master', async () => {
    const { id } = await h.create(h.spec(['sleep', '300']));
    await h.tsrunc(['start', id]);
    const r = await underScript(`${TSRUNC} --root ${h.root} exec -t ${id} sh`, 'tty; exit 6\n');
    expect(r.output).toMatch(/\/dev\/pts\/\d+/);
    expect(r.code).toBe(6);
    const { socket, result } = await receiver('echo via-socket; exit');
    const d = await h.tsrunc(['exec', '-t', '-d', '--console-socket', socket, id, 'sh']);
    expect(d.code).toBe(0);
    expect((await result).output).toContain('via-socket');
  });

  it('a terminal without anyone to receive it is a clear error, and leaves nothing', async () => {
    const bundle = h.bundle(ttySpec());
    const id = h.id();
    const r = await h.tsrunc(['create', '-b', bundle, id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/process\.terminal is true: --console-socket is required/);
    expect(h.leftovers()).not.toContain(id);
    const d = await h.tsrunc(['run', '-d', '-b', bundle, id]);
    expect(d.code).toBe(1);
    const missing = await h.tsrunc(['create', '--console-socket', join(h.dir, 'nope.sock'), '-b', bundle, id]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--console-socket .*nope\.sock: ENOENT/);
    const { id: running } = await h.create(h.spec(['sleep', '300']));
    await h.tsrunc(['start', running]);
    const e = await h.tsrunc(['exec', '-t', '-d', running, 'sh']);
    expect(e.code).toBe(1);
    expect(e.stderr).toMatch(/exec --tty --detach needs --console-socket/);
  });
});
