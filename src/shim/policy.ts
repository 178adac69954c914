import { readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { TsruncError } from '../sys/errors';

/**
 * Whether tsrunc-shim supervises a container that `create` or `run -d`
 * starts. The rule, in order:
 *   1. --shim or --no-shim on the command line;
 *   2. TSRUNC_SHIM=1 or TSRUNC_SHIM=0 in the environment;
 *   3. no shim when tsrunc's parent is an engine's supervisor that reaps
 *      containers itself (containerd's shims, conmon, conmon-rs, crun's
 *      and runc's own callers set themselves as subreapers): names matching
 *      ENGINE_SUPERVISORS;
 *   4. otherwise (a person at a shell, a script, a test suite): the shim.
 * A foreground `run` never needs this rule: tsrunc itself becomes the shim.
 */
export const ENGINE_SUPERVISORS = /^(containerd-shim(-.*)?|conmon|conmon-rs|crio)$/;

export type ShimDecision = { shim: boolean; reason: string };

/** The command line's say: --shim and --no-shim. */
export interface ShimFlags { shim?: boolean; 'no-shim'?: boolean }

export function decideShim(flags: ShimFlags, env: NodeJS.ProcessEnv, parentExe: string | undefined): ShimDecision {
  if (flags.shim === true && flags['no-shim'] === true) throw new TsruncError('--shim and --no-shim contradict each other');
  if (flags.shim === true) return { shim: true, reason: '--shim' };
  if (flags['no-shim'] === true) return { shim: false, reason: '--no-shim' };
  if (env.TSRUNC_SHIM === '1' || env.TSRUNC_SHIM === '0') return { shim: env.TSRUNC_SHIM === '1', reason: `TSRUNC_SHIM=${env.TSRUNC_SHIM}` };
  const name = parentExe ? basename(parentExe) : undefined;
  if (name && ENGINE_SUPERVISORS.test(name)) return { shim: false, reason: `started by ${name}, which reaps the container` };
  return { shim: true, reason: `started by ${name ?? 'an unknown process'}, not by an engine` };
}

/** The executable of the process that ran tsrunc (given its pid's parent). */
export function parentExecutable(ppid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${ppid}/exe`);
  } catch {
    return undefined;
  }
}
