import { resolve } from 'node:path';
import type { CommandContext } from '../context';
import type { Flags } from '../flags';
import { checkPreservedFds } from '../../linux/fds';
import { StateStore } from '../../state/store';
import type { CreateOptions } from '../../container/create';
import type { Supervision } from '../../init/launch';

export function storeOf(ctx: CommandContext<unknown>): StateStore {
  return new StateStore(resolve(ctx.cwd, ctx.global.root));
}

/** --preserve-fds, checked against the fds the caller really gave. */
export function preservedFds(ctx: CommandContext<{ 'preserve-fds': number }>): number {
  const n = ctx.flags['preserve-fds'];
  checkPreservedFds(n, ctx.inheritedFds);
  return n;
}

/** The options create and run share, from their common flags. */
export function createOptions(ctx: CommandContext<Flags<'create'>>, supervision: Supervision): CreateOptions {
  const f = ctx.flags;
  return {
    store: storeOf(ctx),
    id: ctx.args[0],
    bundle: resolve(ctx.cwd, f.bundle ?? '.'),
    pidFile: f['pid-file'] ? resolve(ctx.cwd, f['pid-file']) : undefined,
    consoleSocket: f['console-socket'] ? resolve(ctx.cwd, f['console-socket']) : undefined,
    noPivot: f['no-pivot'] === true,
    noNewKeyring: f['no-new-keyring'] === true,
    preserveFds: preservedFds(ctx),
    supervision,
    systemdCgroup: ctx.global.systemdCgroup,
    rootless: ctx.global.rootless,
    callerPid: ctx.caller.pid,
    log: ctx.log,
  };
}
