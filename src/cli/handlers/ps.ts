import { execFile } from 'node:child_process';
import type { CommandContext } from '../context';
import type { Flags } from '../flags';
import { cgroupPids } from '../../cgroups/manager';
import { loadContainer } from '../../container/load';
import { TsruncError } from '../../sys/errors';
import { storeOf } from './common';

/**
 * `ps [--format table|json] ID [ps options]`: the processes in the
 * container's cgroup (nested cgroups included). json: an array of host pids
 * (what containerd parses); table: ps(1)'s output (default `ps -ef`) kept to
 * the container's lines.
 */
export async function run(ctx: CommandContext<Flags<'ps'>>): Promise<number> {
  const format = ctx.flags.format;
  if (format !== 'table' && format !== 'json') throw new TsruncError(`invalid --format ${JSON.stringify(format)}: must be table or json`);
  const [id, ...psArgs] = ctx.args;
  const { record } = loadContainer(storeOf(ctx), id);
  // Rootless without a writable cgroup, the container has none of its own to list (runc's rootless cgroup manager alike).
  if (!record.cgroup) throw new TsruncError(`container ${id} has no cgroup of its own (created rootless, without a cgroup it could write): its processes cannot be listed`);
  const pids = cgroupPids(record.cgroup);
  if (format === 'json') {
    ctx.stdout(JSON.stringify(pids) + '\n');
    return 0;
  }
  const output = await new Promise<string>((res, rej) => {
    execFile('ps', psArgs.length ? psArgs : ['-ef'], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) rej(new TsruncError(`ps: ${err.message.trim()}${stderr ? `: ${stderr.trim()}` : ''}`));
      else res(stdout);
    });
  });
  const [header, ...lines] = output.split('\n');
  const pidColumn = header.trim().split(/\s+/).indexOf('PID');
  if (pidColumn < 0) throw new TsruncError("couldn't find PID field in ps output");
  const wanted = new Set(pids);
  const rows = lines.filter((l) => l.trim() && wanted.has(Number(l.trim().split(/\s+/)[pidColumn])));
  ctx.stdout([header, ...rows].join('\n') + '\n');
  return 0;
}
