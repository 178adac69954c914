import type { CommandContext } from '../context';
import { pauseContainer } from '../../container/pause';
import { storeOf } from './common';

export async function run(ctx: CommandContext): Promise<number> {
  await pauseContainer(storeOf(ctx), ctx.args[0]);
  return 0;
}
