/**
 * The VM harness for vitest (test/vm/vm.sh does the work; see test/vm/README.md).
 *
 * ensureVm() builds the cached guest images if they are missing (the first
 * time: minutes; then nothing); runInVm() boots a throw-away guest, runs one
 * shell command in it as root, and resolves with its exit code (124 timeout,
 * 125 the VM failed) and combined output. Neither rejects on a failing
 * command; ensureVm rejects when the images cannot be built.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const VM_SH = join(__dirname, 'vm.sh');

export interface VmRun {
  code: number;
  output: string;
}

export interface VmOptions {
  /** Boot the systemd guest (vm.sh -S) instead of the host's root. */
  systemd?: boolean;
  /** Working directory in the guest (default: the repository). */
  cwd?: string;
  env?: Record<string, string>;
  /** Host directories shared read-write at the same path (vm.sh -w). */
  shares?: string[];
  timeoutSec?: number;
  memMb?: number;
}

function runScript(args: string[], timeoutMs: number): Promise<VmRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [VM_SH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    // vm.sh has its own timeout (-t); this one only catches a hung script.
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 125), output });
    });
  });
}

export async function ensureVm(o: { systemd?: boolean } = {}): Promise<void> {
  const r = await runScript(['setup', ...(o.systemd ? ['--systemd'] : [])], 30 * 60_000);
  if (r.code !== 0) throw new Error(`test/vm/vm.sh setup${o.systemd ? ' --systemd' : ''} failed (exit ${r.code}):\n${r.output.slice(-4000)}`);
}

export function runInVm(command: string, o: VmOptions = {}): Promise<VmRun> {
  const repo = join(__dirname, '..', '..');
  const args = ['run', '-C', o.cwd ?? repo, '-t', String(o.timeoutSec ?? 600), '-m', String(o.memMb ?? 2048)];
  if (o.systemd) args.push('-S');
  for (const s of o.shares ?? []) args.push('-w', s);
  for (const [k, v] of Object.entries(o.env ?? {})) args.push('-e', `${k}=${v}`);
  args.push(command);
  return runScript(args, ((o.timeoutSec ?? 600) + 60) * 1000);
}
