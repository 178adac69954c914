import { createContainer, type CreateOptions } from './create';
import { deleteContainer } from './delete';
import { startContainer } from './start';
import { becomeSubreaper, execInPlace, SHIM_BINARY } from '../init/launch';
import type { Logger } from '../sys/log';

export interface ForegroundOptions extends Omit<CreateOptions, 'supervision' | 'ownConsole'> {
  /** The command line that deletes the container afterwards (none with --keep). */
  cleanup?: string[];
  /** The environment tsrunc-shim (and so the cleanup) runs with: the caller's. */
  env: NodeJS.ProcessEnv;
}

/**
 * Foreground `run`: this process becomes the container's supervisor. It
 * sets itself as child subreaper, creates and starts the container (which is
 * re-parented to it), then execs tsrunc-shim in place — same pid, so whoever
 * waits for `tsrunc run` waits for the shim — which forwards signals, relays
 * the terminal, and exits with the container's status after the cleanup. No
 * Node process stays alive for the container's lifetime.
 */
export async function runForeground(o: ForegroundOptions): Promise<never> {
  becomeSubreaper();
  const created = await createContainer({ ...o, supervision: { kind: 'self' }, ownConsole: true });
  try {
    await startContainer(o.store, o.id, o.log);
  } catch (err) {
    await deleteQuietly(o.store, o.id, o.log);
    throw err;
  }
  const env = Object.entries(o.env).map(([k, v]) => `${k}=${v}`);
  const keep = created.console !== undefined ? [created.console] : [];
  return execInPlace(SHIM_BINARY, ['tsrunc-shim', 'foreground', created.dir, String(created.pid), String(created.console ?? -1), '--', ...(o.cleanup ?? [])], env, keep);
}

async function deleteQuietly(store: CreateOptions['store'], id: string, log: Logger): Promise<void> {
  try {
    await deleteContainer(store, id, true, log);
  } catch (err) {
    log.warn(`deleting ${id} after a failed start: ${(err as Error).message}`);
  }
}
