import type { CommandContext } from '../context';
import type { Flags } from '../flags';
import { featuresDocument } from '../features';

/** `features`: what this build implements (runtime-spec features.md), as JSON. */
export async function run(ctx: CommandContext<Flags<'features'>>): Promise<number> {
  ctx.stdout(JSON.stringify(featuresDocument(), null, '  ') + '\n');
  return 0;
}
