import { closeSync, openSync, readSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { runHooksOrThrow } from './hooks';
import { deleteContainer } from './delete';
import { loadContainer, loadSavedConfig } from './load';
import { ociState } from './status';
import { isAlive } from '../linux/proc';
import type { StateStore } from '../state/store';
import { TsruncError } from '../sys/errors';
import type { Logger } from '../sys/log';
import { O_RDONLY, O_NONBLOCK, O_CLOEXEC, POLLIN, pollOne } from '../sys/libc';

/**
 * `start`: open exec.fifo for reading. The container's process, blocked in
 * opening it for writing, writes "0" and goes on to exec the program; the
 * fifo closes on that exec (close-on-exec), so EOF means the program runs.
 * Anything written after the "0" is why it does not (a startContainer hook
 * or the exec failed).
 */
export async function startContainer(store: StateStore, id: string, log: Logger): Promise<void> {
  const release = await store.lock(id);
  let failed = false;
  try {
    const { record, status, dir } = loadContainer(store, id);
    if (status !== 'created') {
      throw new TsruncError(status === 'stopped' ? 'cannot start a container that has stopped'
        : status === 'creating' ? 'cannot start a container that is still being created' : `cannot start an already ${status} container`);
    }
    const spec = loadSavedConfig(dir);
    if (!spec.process) throw new TsruncError('cannot start a container that has no process (config.json has no "process")');
    const fifo = join(dir, 'exec.fifo');
    const fd = openSync(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    let output = '';
    try {
      // The init already waits in open(): the first poll returns at once. Still, never wait on a dead process.
      let started = false;
      for (;;) {
        const revents = pollOne(fd, POLLIN, 100);
        if (revents === 0) {
          if (!isAlive(record.pid!, record.pidStartTime!)) throw new TsruncError('the container process exited before it was started');
          continue;
        }
        const chunk = Buffer.alloc(4096);
        let n: number;
        try {
          n = readSync(fd, chunk, 0, chunk.length, null);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue;
          throw err;
        }
        if (n === 0) {
          if (started) break;
          // EOF before the "0": no writer yet (a race with the init's open), or it died.
          if (!isAlive(record.pid!, record.pidStartTime!)) throw new TsruncError('the container process exited before it was started');
          await new Promise((r) => setTimeout(r, 1));
          continue;
        }
        output += chunk.subarray(0, n).toString();
        if (!started && output.startsWith('0')) {
          started = true;
          output = output.slice(1);
          unlinkSync(fifo); // from here on the status is "running"
        }
      }
    } finally {
      closeSync(fd);
    }
    try {
      if (output.trim()) throw new TsruncError(output.trim());
      await runHooksOrThrow('poststart', spec.hooks?.poststart, JSON.stringify(ociState(record, 'running')), record.bundle);
    } catch (err) {
      failed = true;
      throw err;
    }
  } finally {
    release();
    // The spec: a failed startContainer or poststart hook stops the container, and the lifecycle goes
    // on with its destruction (and the poststop hooks).
    if (failed) await deleteContainer(store, id, true, log).catch((err) => log.warn(`destroying ${id}: ${(err as Error).message}`));
  }
}
