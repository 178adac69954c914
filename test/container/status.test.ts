import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deriveStatus, ociState } from '../../src/container/status';
import type { ContainerRecord } from '../../src/state/store';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsrunc-status-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function startTimeOf(pid: number): string {
  const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return text.slice(text.lastIndexOf(')') + 2).split(' ')[19];
}

/** A pid that existed and is gone (reaped). */
function deadPid(): number {
  return Number(spawnSync('/bin/sh', ['-c', 'echo $$'], { encoding: 'utf8' }).stdout.trim());
}

const base: ContainerRecord = { ociVersion: '1.3.0', id: 'ctr', bundle: '/b', rootfs: '/b/rootfs', created: '2024-01-01T00:00:00.000Z' };
/** A record whose container process is this (live) test process. */
const live = (extra: Partial<ContainerRecord> = {}): ContainerRecord => ({ ...base, pid: process.pid, pidStartTime: startTimeOf(process.pid), ...extra });

describe('deriveStatus', () => {
  it('is creating while the creating tsrunc lives, stopped when it died', () => {
    expect(deriveStatus({ ...base, creating: { pid: process.pid, startTime: startTimeOf(process.pid) } }, dir)).toBe('creating');
    expect(deriveStatus({ ...base, creating: { pid: deadPid(), startTime: '1' } }, dir)).toBe('stopped');
    // A recycled pid is not the creator.
    expect(deriveStatus({ ...base, creating: { pid: process.pid, startTime: '1' } }, dir)).toBe('stopped');
  });

  it('is stopped without a pid, or when the process is gone or is another one', () => {
    expect(deriveStatus(base, dir)).toBe('stopped');
    expect(deriveStatus({ ...base, pid: process.pid }, dir)).toBe('stopped');
    expect(deriveStatus({ ...base, pid: deadPid(), pidStartTime: '1' }, dir)).toBe('stopped');
    expect(deriveStatus(live({ pidStartTime: '1' }), dir)).toBe('stopped');
  });

  it('is created while exec.fifo exists, running after', () => {
    writeFileSync(join(dir, 'exec.fifo'), '');
    expect(deriveStatus(live(), dir)).toBe('created');
    rmSync(join(dir, 'exec.fifo'));
    expect(deriveStatus(live(), dir)).toBe('running');
  });

  it('is paused when the cgroup v2 freezer says frozen', () => {
    const cg = join(dir, 'cg');
    mkdirSync(cg);
    const cgroup = { mode: 'unified' as const, path: '/ctr', dirs: { '': cg }, created: [] };
    writeFileSync(join(cg, 'cgroup.events'), 'populated 1\nfrozen 0\n');
    expect(deriveStatus(live({ cgroup }), dir)).toBe('running');
    writeFileSync(join(cg, 'cgroup.events'), 'populated 1\nfrozen 1\n');
    expect(deriveStatus(live({ cgroup }), dir)).toBe('paused');
  });

  it('is paused when the v1 freezer is FROZEN (not while FREEZING)', () => {
    const freezer = join(dir, 'freezer');
    mkdirSync(freezer);
    const cgroup = { mode: 'legacy' as const, path: '/ctr', dirs: { freezer, memory: join(dir, 'memory') }, created: [] };
    writeFileSync(join(freezer, 'freezer.state'), 'THAWED\n');
    expect(deriveStatus(live({ cgroup }), dir)).toBe('running');
    writeFileSync(join(freezer, 'freezer.state'), 'FREEZING\n');
    expect(deriveStatus(live({ cgroup }), dir)).toBe('running');
    writeFileSync(join(freezer, 'freezer.state'), 'FROZEN\n');
    expect(deriveStatus(live({ cgroup }), dir)).toBe('paused');
  });

  it('is running when the freezer cannot be read', () => {
    expect(deriveStatus(live({ cgroup: { mode: 'unified', path: '/x', dirs: { '': join(dir, 'missing') }, created: [] } }), dir)).toBe('running');
    expect(deriveStatus(live({ cgroup: { mode: 'legacy', path: '/x', dirs: { memory: dir }, created: [] } }), dir)).toBe('running');
  });

  it('reports created rather than paused while the fifo exists', () => {
    const cg = join(dir, 'cg');
    mkdirSync(cg);
    writeFileSync(join(cg, 'cgroup.events'), 'frozen 1\n');
    writeFileSync(join(dir, 'exec.fifo'), '');
    expect(deriveStatus(live({ cgroup: { mode: 'unified', path: '/ctr', dirs: { '': cg }, created: [] } }), dir)).toBe('created');
  });
});

describe('ociState', () => {
  const record = { ...base, pid: 42, pidStartTime: '7', annotations: { 'org.example': 'x' } };

  it('has the OCI fields, runc\'s extras, and the pid while the container is alive', () => {
    expect(ociState(record, 'running')).toEqual({
      ociVersion: '1.3.0', id: 'ctr', status: 'running', bundle: '/b', pid: 42,
      rootfs: '/b/rootfs', created: '2024-01-01T00:00:00.000Z', owner: '', annotations: { 'org.example': 'x' },
    });
    expect(ociState(record, 'created').pid).toBe(42);
    expect(ociState(record, 'paused').pid).toBe(42);
  });

  it('has no pid once stopped, or before there is one', () => {
    expect(ociState(record, 'stopped')).not.toHaveProperty('pid');
    expect(ociState(base, 'creating')).not.toHaveProperty('pid');
  });

  it('omits empty annotations', () => {
    expect(ociState({ ...base, annotations: {} }, 'running')).not.toHaveProperty('annotations');
    expect(ociState(base, 'running')).not.toHaveProperty('annotations');
  });

  it('puts the fields in the order runc prints them', () => {
    expect(Object.keys(ociState(record, 'running'))).toEqual(['ociVersion', 'id', 'status', 'bundle', 'pid', 'rootfs', 'created', 'owner', 'annotations']);
  });
});
