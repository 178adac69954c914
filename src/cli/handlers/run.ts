import { resolve } from 'node:path';
import type { CommandContext } from '../context';
import type { Flags } from '../flags';
import { createContainer } from '../../container/create';
import { deleteContainer } from '../../container/delete';
import { runForeground } from '../../container/run';
import { startContainer } from '../../container/start';
import { decideShim, parentExecutable } from '../../shim/policy';
import { createOptions } from './common';

/** `run`: create + start; in the foreground, wait and exit with the container's status, then delete it. */
export async function run(ctx: CommandContext<Flags<'run'>>): Promise<number> {
  const id = ctx.args[0];
  if (!ctx.flags.detach) {
    const g = ctx.global;
    const cleanup = ctx.flags.keep ? undefined : [...ctx.self, '--root', resolve(ctx.cwd, g.root),
      ...(g.log ? ['--log', resolve(ctx.cwd, g.log)] : []), '--log-format', g.logFormat, 'delete', '--force', id];
    const { supervision: _, ...options } = createOptions(ctx, { kind: 'self' });
    return runForeground({ ...options, cleanup, env: ctx.env });
  }
  const decision = decideShim(ctx.flags, ctx.env, parentExecutable(ctx.caller.ppid));
  ctx.log.debug(`supervision: ${decision.shim ? 'tsrunc-shim' : 'the caller'} (${decision.reason})`);
  const options = createOptions(ctx, { kind: 'caller' });
  if (decision.shim) {
    const shimLog = ctx.flags['shim-log'] ? resolve(ctx.cwd, ctx.flags['shim-log']) : undefined;
    options.supervision = { kind: 'shim', stateDir: options.store.dir(id), logFile: shimLog };
  }
  await createContainer(options);
  try {
    await startContainer(options.store, id, ctx.log);
  } catch (err) {
    await deleteContainer(options.store, id, true, ctx.log).catch(() => undefined);
    throw err;
  }
  return 0;
}
