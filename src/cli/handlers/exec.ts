import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CommandContext } from '../context';
import type { Flags } from '../flags';
import { execInContainer, processFromFlags } from '../../container/exec';
import { loadContainer, loadSavedConfig } from '../../container/load';
import { parseJson, validateProcess } from '../../config/validate';
import { TsruncError } from '../../sys/errors';
import { preservedFds, storeOf } from './common';
import type { Process } from '../../spec/types';

/** `exec`: the process from --process (validated like config.json), or the container's own changed by the flags. */
export async function run(ctx: CommandContext<Flags<'exec'>>): Promise<number> {
  const f = ctx.flags;
  const [id, ...args] = ctx.args;
  const store = storeOf(ctx);
  let process: Process;
  if (f.process !== undefined) {
    if (args.length) throw new TsruncError('exec: give either --process or a command line, not both');
    const path = f.process;
    const text = path === '-' ? await ctx.readStdin() : readFile(resolve(ctx.cwd, path));
    process = validateProcess(parseJson(text, 'process.json'));
  } else {
    if (!args.length) throw new TsruncError('exec: no command to run (give one after the container id, or --process)');
    const { dir } = loadContainer(store, id);
    const base = loadSavedConfig(dir).process;
    if (!base) throw new TsruncError(`exec: container ${JSON.stringify(id)} has no process to take defaults from; use --process`);
    process = validateProcess(processFromFlags(base, args, {
      cwd: f.cwd, env: f.env, user: f.user, additionalGids: f['additional-gids'], caps: f.cap, noNewPrivs: f['no-new-privs'] === true,
      tty: f.tty === true, processLabel: f['process-label'], apparmor: f.apparmor,
    }), 'the exec process');
  }
  return execInContainer({
    store, id, process, detach: f.detach === true,
    pidFile: f['pid-file'] ? resolve(ctx.cwd, f['pid-file']) : undefined,
    consoleSocket: f['console-socket'] ? resolve(ctx.cwd, f['console-socket']) : undefined,
    preserveFds: preservedFds(ctx), callerPid: ctx.caller.pid, env: ctx.env, log: ctx.log,
  });
}

function readFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new TsruncError(`--process ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}
