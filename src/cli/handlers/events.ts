import type { CommandContext } from '../context';
import type { Flags } from '../flags';
import { streamEvents } from '../../container/events';
import { TsruncError } from '../../sys/errors';
import { storeOf } from './common';

/** `events [--stats] [--interval D] ID`: runc's JSON event stream (see container/events.ts). */
export async function run(ctx: CommandContext<Flags<'events'>>): Promise<number> {
  await streamEvents(storeOf(ctx), ctx.args[0], {
    stats: ctx.flags.stats === true,
    intervalMs: parseDuration(ctx.flags.interval),
    out: ctx.stdout,
  });
  return 0;
}

/** A Go duration ("5s", "100ms", "1m30s", "1.5h") in milliseconds. */
export function parseDuration(text: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  const sign = text.startsWith('-') ? -1 : 1;
  const body = text.replace(/^[+-]/, '');
  for (let m = re.exec(body); m; m = re.exec(body)) {
    total += Number(m[1]) * units[m[2]];
    pos = re.lastIndex;
  }
  if (!body || pos !== body.length) throw new TsruncError(`invalid value ${JSON.stringify(text)} for flag -interval: parse error`);
  return sign * total;
}
