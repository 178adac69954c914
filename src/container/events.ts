import { statsJson } from '../cgroups/resources';
import { managerFor } from '../cgroups/manager';
import type { StateStore } from '../state/store';
import { TsruncError } from '../sys/errors';
import { loadContainer } from './load';
import { deriveStatus } from './status';
import { cgroupPids } from '../cgroups/manager';

export interface EventsOptions {
  /** One stats event, then return. */
  stats: boolean;
  intervalMs: number;
  out: (line: string) => void;
  /** How often the OOM counter and the container are looked at. */
  pollMs?: number;
}

/**
 * `events`: runc's event stream, one JSON object per line:
 * {"type":"stats","id":ID,"data":{cpu,memory,pids,blkio,hugetlb,...}} every
 * interval, and {"type":"oom","id":ID} when the OOM killer acts in the
 * container's cgroup. Ends when the container stops.
 */
export async function streamEvents(store: StateStore, id: string, o: EventsOptions): Promise<void> {
  if (!(o.intervalMs > 0)) throw new TsruncError('duration interval must be greater than 0');
  const { record, status } = loadContainer(store, id);
  if (status === 'stopped') throw new TsruncError(`container with id ${id} is not running`);
  if (!record.cgroup) throw new TsruncError(`container ${id} has no cgroup`);
  const manager = await managerFor(record.cgroup);
  const emit = (e: Record<string, unknown>) => o.out(statsJson(e) + '\n');
  if (o.stats) {
    emit({ type: 'stats', id, data: manager.stats() });
    return;
  }
  const oomCount = () => {
    try {
      return manager.oomCount();
    } catch {
      return 0;
    }
  };
  let ooms = oomCount();
  let next = Date.now() + o.intervalMs;
  for (;;) {
    await new Promise((r) => setTimeout(r, Math.min(o.pollMs ?? 100, o.intervalMs)));
    const now = oomCount();
    if (now > ooms) emit({ type: 'oom', id });
    ooms = now;
    const current = store.tryRead(id);
    if (!current) return;
    if (deriveStatus(current, store.dir(id)) === 'stopped' && !cgroupPids(record.cgroup).length) return;
    if (Date.now() >= next) {
      try {
        emit({ type: 'stats', id, data: manager.stats() });
      } catch {
        // the cgroup went away between two looks: the next look ends the stream
      }
      next += o.intervalMs * Math.max(1, Math.ceil((Date.now() - next) / o.intervalMs));
    }
  }
}
