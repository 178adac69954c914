import type { CommandContext } from '../context';
import type { Flags } from '../flags';
import { loadContainer } from '../../container/load';
import { ociState } from '../../container/status';
import { storeOf } from './common';

export async function run(ctx: CommandContext<Flags<'state'>>): Promise<number> {
  const store = storeOf(ctx);
  const { record, status } = loadContainer(store, ctx.args[0]);
  const state = ociState(record, status);
  const exit = status === 'stopped' ? store.readExit(record.id) : undefined;
  // Recorded by tsrunc-shim: how the container's process ended.
  if (exit) Object.assign(state, { exitCode: exit.exitCode, exitSignal: exit.signal || undefined, exitedAt: exit.exitedAt });
  ctx.stdout(JSON.stringify(state, null, '  ') + '\n');
  return 0;
}
