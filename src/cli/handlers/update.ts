import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CommandContext } from '../context';
import type { Flags } from '../flags';
import { resourcesFromFlags, updateContainer } from '../../container/update';
import type { Resources } from '../../spec/types';
import { validateConfig } from '../../config/validate';
import { TsruncError } from '../../sys/errors';
import { storeOf } from './common';

/**
 * `update [--resources FILE|-] [--memory ...] ID`: with --resources, the
 * LinuxResources JSON (a file, or stdin for "-") and no other flag counts,
 * as in runc; otherwise the flags.
 */
export async function run(ctx: CommandContext<Flags<'update'>>): Promise<number> {
  const f = ctx.flags;
  for (const flag of ['l3-cache-schema', 'mem-bw-schema'] as const) {
    if (f[flag]) throw new TsruncError(`--${flag}: Intel RDT is not supported by tsrunc (containers never have an Intel RDT configuration to update)`);
  }
  let request: Resources;
  const source = f.resources;
  if (source) {
    const text = source === '-' ? await ctx.readStdin() : readText(resolve(ctx.cwd, source));
    request = parseResources(text, source === '-' ? 'stdin' : source);
  } else {
    request = resourcesFromFlags(f);
  }
  await updateContainer(storeOf(ctx), ctx.args[0], request, ctx.log);
  return 0;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new TsruncError(`--resources ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

/** The JSON, checked against the config schema's linux.resources. */
export function parseResources(text: string, where: string): Resources {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new TsruncError(`--resources ${where}: invalid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new TsruncError(`--resources ${where}: not a JSON object`);
  try {
    validateConfig({ ociVersion: '1.3.0', root: { path: '/' }, linux: { resources: doc } });
  } catch (err) {
    throw new TsruncError(`--resources ${where}: ${(err as Error).message.replace(/^config\.json: /, '').replace(/\/linux\/resources/g, '')}`, { cause: err });
  }
  return doc as Resources;
}
