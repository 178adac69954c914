import { managerFor } from '../cgroups/manager';
import type { StateStore } from '../state/store';
import { TsruncError } from '../sys/errors';
import { loadContainer } from './load';

/** `pause`: freeze every process of a running (or created) container: v1 freezer.state, v2 cgroup.freeze. */
export async function pauseContainer(store: StateStore, id: string): Promise<void> {
  const release = await store.lock(id);
  try {
    const { record, status } = loadContainer(store, id);
    if (status !== 'running' && status !== 'created') throw new TsruncError(`container ${id} is not running: ${status}`);
    if (!record.cgroup) throw new TsruncError(`container ${id} has no cgroup of its own to freeze (created rootless, without a cgroup it could write)`);
    await (await managerFor(record.cgroup)).freeze();
  } finally {
    release();
  }
}

/** `resume`: thaw a paused container. */
export async function resumeContainer(store: StateStore, id: string): Promise<void> {
  const release = await store.lock(id);
  try {
    const { record, status } = loadContainer(store, id);
    if (status !== 'paused') throw new TsruncError(`container ${id} is not paused: ${status}`);
    if (!record.cgroup) throw new TsruncError(`container ${id} has no cgroup of its own to thaw`);
    (await managerFor(record.cgroup)).thaw();
  } finally {
    release();
  }
}
