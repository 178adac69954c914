import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CommandContext } from '../context';
import { defaultSpec, rootlessSpec } from '../../spec/defaults';
import { TsruncError } from '../../sys/errors';
import { detectMode } from '../../cgroups/detect';
import { statfsType } from '../../sys/libc';

export async function run(ctx: CommandContext): Promise<number> {
  const bundle = resolve(ctx.cwd, (ctx.flags.bundle as string | undefined) ?? '.');
  const file = join(bundle, 'config.json');
  if (existsSync(file)) throw new TsruncError(`${file} exists; remove it first`);
  const spec = ctx.flags.rootless
    ? rootlessSpec(process.geteuid?.() ?? 0, process.getegid?.() ?? 0, detectMode(statfsType) === 'unified')
    : defaultSpec();
  writeFileSync(file, JSON.stringify(spec, null, '\t') + '\n');
  return 0;
}
