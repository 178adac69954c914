import type { CommandContext } from '../context';
import type { Flags } from '../flags';
import { killContainer } from '../../container/kill';
import { storeOf } from './common';

export async function run(ctx: CommandContext<Flags<'kill'>>): Promise<number> {
  await killContainer(storeOf(ctx), ctx.args[0], ctx.args[1] ?? 'SIGTERM', ctx.flags.all === true);
  return 0;
}
