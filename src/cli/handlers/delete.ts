import type { CommandContext } from '../context';
import { deleteContainer } from '../../container/delete';
import { storeOf } from './common';

export async function run(ctx: CommandContext): Promise<number> {
  await deleteContainer(storeOf(ctx), ctx.args[0], ctx.flags.force === true, ctx.log);
  return 0;
}
