import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isAlive, readProcStat } from '../../src/linux/proc';

const dir = mkdtempSync(join(tmpdir(), 'tsrunc-proc-'));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Field 22 of /proc/<pid>/stat, read independently of the code under test. */
function startTimeOf(pid: number): string {
  const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return text.slice(text.lastIndexOf(')') + 2).split(' ')[19];
}

function waitForLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.on('error', reject);
  });
}

describe('readProcStat', () => {
  it('reads this process: ppid and start time', () => {
    const stat = readProcStat(process.pid)!;
    expect(stat.ppid).toBe(process.ppid);
    expect(stat.startTime).toMatch(/^\d+$/);
    expect(stat.startTime).toBe(startTimeOf(process.pid));
    expect(['R', 'S']).toContain(stat.state);
  });

  it('is undefined for a pid that does not exist', () => {
    expect(readProcStat(0x7fffffff)).toBeUndefined();
  });

  it('parses a command name containing spaces and parentheses', async () => {
    // comm is the executable's file name: run sleep through a symlink with an awkward name.
    const link = join(dir, 'a) b (c');
    symlinkSync('/bin/sleep', link);
    const child = spawn(link, ['30'], { stdio: 'ignore' });
    children.push(child);
    await new Promise((r) => child.once('spawn', r));
    for (let i = 0; i < 200 && !readFileSync(`/proc/${child.pid}/stat`, 'latin1').includes('a) b (c'); i++) await new Promise((r) => setTimeout(r, 5));
    expect(readFileSync(`/proc/${child.pid}/stat`, 'latin1')).toContain('(a) b (c)');
    const stat = readProcStat(child.pid!)!;
    expect(stat.ppid).toBe(process.pid);
    expect(stat.startTime).toMatch(/^\d+$/);
    expect(['R', 'S']).toContain(stat.state);
  });
});

describe('isAlive', () => {
  it('is true for a live process with its start time', () => {
    expect(isAlive(process.pid, startTimeOf(process.pid))).toBe(true);
  });

  it('is false when the start time differs (a recycled pid)', () => {
    expect(isAlive(process.pid, String(Number(startTimeOf(process.pid)) + 1))).toBe(false);
  });

  it('is false for a pid that does not exist', () => {
    expect(isAlive(0x7fffffff, '1')).toBe(false);
  });

  it('is false for a zombie', async () => {
    // The forked child exits at once; its parent never waits for it (a shell might), so it stays a zombie.
    const child = spawn('python3', ['-c', 'import os, sys, time\npid = os.fork()\nif pid == 0: os._exit(0)\nprint(pid, flush=True)\ntime.sleep(30)'],
      { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(child);
    const zombie = Number(await waitForLine(child));
    for (let i = 0; i < 400 && readProcStat(zombie)?.state !== 'Z'; i++) await new Promise((r) => setTimeout(r, 5));
    const stat = readProcStat(zombie)!;
    expect(stat.state).toBe('Z');
    expect(isAlive(zombie, stat.startTime)).toBe(false);
  });
});
