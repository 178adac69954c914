import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from '../linux/proc';
import type { ContainerRecord } from '../state/store';
import type { State, Status } from '../spec/types';
import { freezerOf } from '../cgroups/freezer';

/**
 * A container's status, derived from the live system rather than trusted
 * from disk: its process (pid and start time, so a recycled pid never reads
 * as ours), the start fifo (present until `start`), and the freezer.
 */
export function deriveStatus(record: ContainerRecord, stateDir: string): Status {
  if (record.creating) return isAlive(record.creating.pid, record.creating.startTime) ? 'creating' : 'stopped';
  if (record.pid === undefined || record.pidStartTime === undefined || !isAlive(record.pid, record.pidStartTime)) return 'stopped';
  if (existsSync(join(stateDir, 'exec.fifo'))) return 'created';
  if (record.cgroup && freezerOf(record.cgroup).isFrozen()) return 'paused';
  return 'running';
}

/**
 * The OCI state document, plus what runc adds (rootfs, created, owner) for
 * tools that read those. A stopped container has no pid: the spec asks for
 * one only while created or running, and the old one may be another
 * process by now.
 */
export function ociState(record: ContainerRecord, status: Status): State & Record<string, unknown> {
  const state: State & Record<string, unknown> = {
    ociVersion: record.ociVersion,
    id: record.id,
    status,
    bundle: record.bundle,
  };
  if (status !== 'stopped' && record.pid !== undefined) state.pid = record.pid;
  state.rootfs = record.rootfs;
  state.created = record.created;
  state.owner = '';
  if (record.annotations && Object.keys(record.annotations).length) state.annotations = record.annotations;
  return state;
}
