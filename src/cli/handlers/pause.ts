import type { CommandContext } from '../context';
import type { Flags } from '../flags';
import { pauseContainer } from '../../container/pause';
import { storeOf } from './common';

export async function run(ctx: CommandContext<Flags<'pause'>>): Promise<number> {
  await pauseContainer(storeOf(ctx), ctx.args[0]);
  return 0;
}
