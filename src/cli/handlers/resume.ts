import type { CommandContext } from '../context';
import type { Flags } from '../flags';
import { resumeContainer } from '../../container/pause';
import { storeOf } from './common';

export async function run(ctx: CommandContext<Flags<'resume'>>): Promise<number> {
  await resumeContainer(storeOf(ctx), ctx.args[0]);
  return 0;
}
