import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CommandContext } from '../context';
import type { Flags } from '../flags';
import { defaultSpec, rootlessSpec } from '../../spec/defaults';
import { TsruncError } from '../../sys/errors';
import { detectMode } from '../../cgroups/detect';
import { statfsType } from '../../sys/libc';

export async function run(ctx: CommandContext<Flags<'spec'>>): Promise<number> {
  const bundle = resolve(ctx.cwd, ctx.flags.bundle ?? '.');
  const file = join(bundle, 'config.json');
  if (existsSync(file)) throw new TsruncError(`${file} exists; remove it first`);
  // As runc: a cgroup namespace only on a cgroup v2 (unified) host.
  const v2 = detectMode(statfsType) === 'unified';
  const spec = ctx.flags.rootless ? rootlessSpec(process.geteuid?.() ?? 0, process.getegid?.() ?? 0, v2) : defaultSpec({ cgroupNamespace: v2 });
  writeFileSync(file, JSON.stringify(spec, null, '\t') + '\n');
  return 0;
}
