import type { CommandContext } from '../context';
import type { Flags } from '../flags';
import { deleteContainer } from '../../container/delete';
import { storeOf } from './common';

export async function run(ctx: CommandContext<Flags<'delete'>>): Promise<number> {
  await deleteContainer(storeOf(ctx), ctx.args[0], ctx.flags.force === true, ctx.log);
  return 0;
}
