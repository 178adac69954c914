import { readFileSync } from 'node:fs';

/** What /proc/<pid>/stat says about a process that matters to us. */
export interface ProcStat {
  state: string;
  ppid: number;
  /** Field 22: start time in clock ticks after boot. With the pid, it names one process for ever. */
  startTime: string;
}

export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name may contain spaces and parentheses: fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], ppid: Number(fields[1]), startTime: fields[19] };
}

/**
 * True when pid is still the process that had startTime, and has not ended.
 * A zombie has ended: only its parent has not collected the status yet.
 */
export function isAlive(pid: number, startTime: string, read: (pid: number) => ProcStat | undefined = readProcStat): boolean {
  const stat = read(pid);
  return stat !== undefined && stat.startTime === startTime && stat.state !== 'Z' && stat.state !== 'X';
}
