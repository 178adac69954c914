import { constants } from 'node:os';
import { TsruncError } from '../sys/errors';

const SIGRTMIN = 34, SIGRTMAX = 64;

/**
 * A signal as runc accepts it: a number, or a name with or without "SIG"
 * (KILL, SIGKILL, sigkill), including RTMIN+n and RTMAX-n; 0 checks the process exists.
 */
export function parseSignal(text: string): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    // 0 sends nothing: only "is it there?" (kill ID 0), as runc accepts.
    if (n >= 0 && n <= SIGRTMAX) return n;
    throw new TsruncError(`invalid signal ${JSON.stringify(text)}: out of range 0-${SIGRTMAX}`);
  }
  const name = t.toUpperCase().replace(/^SIG/, '');
  const rt = /^RT(MIN|MAX)(?:([+-])(\d+))?$/.exec(name);
  if (rt) {
    const base = rt[1] === 'MIN' ? SIGRTMIN : SIGRTMAX;
    const n = base + (rt[2] === '-' ? -1 : 1) * Number(rt[3] ?? 0);
    if (n >= SIGRTMIN && n <= SIGRTMAX) return n;
    throw new TsruncError(`invalid signal ${JSON.stringify(text)}: out of range ${SIGRTMIN}-${SIGRTMAX}`);
  }
  const n = (constants.signals as Record<string, number>)[`SIG${name}`];
  if (n !== undefined) return n;
  throw new TsruncError(`invalid signal ${JSON.stringify(text)}: unknown signal name`);
}

export function signalName(n: number): string {
  const entry = Object.entries(constants.signals).find(([, v]) => v === n);
  return entry ? entry[0] : `signal ${n}`;
}
