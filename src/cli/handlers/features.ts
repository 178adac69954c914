import type { CommandContext } from '../context';
import { featuresDocument } from '../features';

/** `features`: what this build implements (runtime-spec features.md), as JSON. */
export async function run(ctx: CommandContext): Promise<number> {
  ctx.stdout(JSON.stringify(featuresDocument(), null, '  ') + '\n');
  return 0;
}
