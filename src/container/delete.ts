import { freezerOf } from '../cgroups/freezer';
import { cgroupPids } from '../cgroups/manager';
import { destroyCgroup } from '../cgroups/destroy';
import type { CgroupRecord } from '../cgroups/types';
import { isAlive } from '../linux/proc';
import type { StateStore } from '../state/store';
import { TsruncError } from '../sys/errors';
import type { Logger } from '../sys/log';
import { killAndWait, unmountUnder } from './teardown';
import { runPoststopHooks } from './hooks';
import { signalAll } from './kill';
import { loadContainer, loadSavedConfig } from './load';
import { ociState } from './status';

/**
 * `delete`: remove a container and everything it created. A created
 * container (never started) is killed first, as runc does; a running or
 * paused one only with --force. --force on an id that does not exist
 * succeeds (engines call it to be sure). Poststop hooks run last.
 */
export async function deleteContainer(store: StateStore, id: string, force: boolean, log: Logger): Promise<void> {
  if (!store.exists(id)) {
    if (force) return;
    throw new TsruncError(`container ${JSON.stringify(id)} does not exist`);
  }
  const release = await store.lock(id);
  try {
    const record = store.tryRead(id);
    if (!record) {
      // A create that died before writing any state: only the directory is left.
      store.remove(id);
      return;
    }
    const { status, dir } = loadContainer(store, id);
    if ((status === 'running' || status === 'paused' || status === 'creating') && !force) {
      throw new TsruncError(`cannot delete container ${id} that is not stopped: ${status}`);
    }
    let spec;
    try {
      spec = loadSavedConfig(dir);
    } catch {
      spec = undefined;
    }
    if (record.creating && isAlive(record.creating.pid, record.creating.startTime)) {
      await killAndWait(record.creating.pid, record.creating.startTime);
    }
    // A paused container: frozen processes die of SIGKILL only when thawed, so kill them all, then thaw.
    if (status === 'paused' && record.cgroup) {
      await signalAll(record, 9);
      thawQuietly(record.cgroup);
    }
    if (record.pid !== undefined) await killAndWait(record.pid, record.pidStartTime);
    if (record.hostMounts) await unmountUnder(record.rootfs);
    if (record.cgroup) {
      // Whatever is left in the cgroup (the container did not have its own pid namespace) goes too.
      for (let i = 0; i < 100 && cgroupPids(record.cgroup).length; i++) {
        await signalAll(record, 9);
        await new Promise((r) => setTimeout(r, 10));
      }
      await destroyCgroup(record.cgroup, (m) => log.warn(m));
    }
    store.remove(id);
    await runPoststopHooks(spec?.hooks?.poststop, JSON.stringify(ociState(record, 'stopped')), record.bundle, log);
  } finally {
    release();
  }
}

/** After the SIGKILLs: frozen processes die once thawed. A failure here only leaves them for the cgroup sweep below. */
function thawQuietly(cgroup: CgroupRecord): void {
  try {
    freezerOf(cgroup).thaw();
  } catch {
    // nothing frozen to thaw
  }
}
