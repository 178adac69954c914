import type { CommandContext } from '../context';
import type { Flags } from '../flags';
import { startContainer } from '../../container/start';
import { storeOf } from './common';

export async function run(ctx: CommandContext<Flags<'start'>>): Promise<number> {
  await startContainer(storeOf(ctx), ctx.args[0], ctx.log);
  return 0;
}
