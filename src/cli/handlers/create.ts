import type { CommandContext } from '../context';
import type { Flags } from '../flags';
import { createContainer } from '../../container/create';
import { decideShim, parentExecutable } from '../../shim/policy';
import { createOptions, storeOf } from './common';
import { resolve } from 'node:path';

export async function run(ctx: CommandContext<Flags<'create'>>): Promise<number> {
  const decision = decideShim(ctx.flags, ctx.env, parentExecutable(ctx.caller.ppid));
  ctx.log.debug(`supervision: ${decision.shim ? 'tsrunc-shim' : 'the caller'} (${decision.reason})`);
  const store = storeOf(ctx);
  const shimLog = ctx.flags['shim-log'] ? resolve(ctx.cwd, ctx.flags['shim-log']) : undefined;
  await createContainer(createOptions(ctx, decision.shim
    ? { kind: 'shim', stateDir: store.dir(ctx.args[0]), logFile: shimLog }
    : { kind: 'caller' }));
  return 0;
}
