import { randomBytes } from 'node:crypto';
import { InitChannel } from '../init/channel';
import { INIT_BINARY, SHIM_BINARY, type LaunchedInit, type LaunchOptions, type Launcher } from '../init/launch';
import { readProcStat } from '../state/proc';
import { SyscallError, TsruncError } from '../sys/errors';
import { Msg, SPAWN_CONSOLE_PAIR, SPAWN_SEALED, SPAWN_SETSID } from './protocol';
import type { ClientConnection, TsruncServer } from './server';

/**
 * The Launcher for calls served by the tsrunc server: the client forks, so
 * the container's init descends from the process the engine ran and inherits
 * its stdio and preserved fds; tsrunc-init then dials this server with a
 * one-time token to become the create's channel.
 */
export class RemoteLauncher implements Launcher {
  constructor(private readonly client: ClientConnection, private readonly server: TsruncServer) {}

  async launch(opts: LaunchOptions): Promise<LaunchedInit> {
    const token = randomBytes(16).toString('hex');
    const wait = this.server.expectInit(token);
    const init = [INIT_BINARY, '--connect', this.server.socketPath, token];
    const shim = opts.supervision.kind === 'shim' ? opts.supervision : undefined;
    const argv = shim ? [SHIM_BINARY, 'supervise', shim.stateDir, shim.logFile ?? '-', '--', ...init] : init;
    const flags = (shim ? SPAWN_SETSID : SPAWN_SEALED) | (opts.consolePair ? SPAWN_CONSOLE_PAIR : 0);
    const reply = await this.client.request(Msg.Spawn, [argv, flags, 3 + opts.preserveFds], Msg.Spawned);
    const pid = reply.i64();
    const consoleFd = reply.i64();
    const consoleKeep = reply.i64();
    if (pid < 0) {
      wait.cancel();
      throw new SyscallError(`start ${shim ? 'tsrunc-shim' : 'tsrunc-init'}`, -pid);
    }
    const watch = watchUntilConnected(pid);
    const sock = await Promise.race([wait.connected, watch.failed]).finally(() => {
      wait.cancel();
      watch.stop();
    });
    return {
      channel: new InitChannel(sock),
      consoleFd: consoleFd >= 0 ? consoleFd : undefined,
      consoleKeep: consoleKeep >= 0 ? consoleKeep : undefined,
      kill: () => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      },
    };
  }

  async becomeSubreaper(): Promise<void> {
    const errno = (await this.client.request(Msg.Subreaper, [], Msg.Done)).i64();
    if (errno < 0) throw new SyscallError('prctl(PR_SET_CHILD_SUBREAPER)', -errno);
  }

  execInPlace(path: string, argv: string[], env: string[], keepFds: number[]): Promise<never> {
    // The client becomes `path`; its connection closes on exec and the call is over.
    this.client.send(Msg.Exec, [[path, ...argv.slice(1)], env, keepFds.map(String)]);
    return new Promise<never>(() => {});
  }
}

/**
 * Fails if the spawned process ends (or, for a shim, its init never calls)
 * before tsrunc-init has connected. It dials at once; the deadline only
 * catches a hang, and is generous because a loaded machine is slow, not hung.
 */
function watchUntilConnected(pid: number): { failed: Promise<never>; stop: () => void } {
  const started = readProcStat(pid)?.startTime;
  const deadline = Date.now() + 60_000;
  let timer: NodeJS.Timeout | undefined;
  const failed = new Promise<never>((_, reject) => {
    timer = setInterval(() => {
      const stat = readProcStat(pid);
      if (!stat || stat.startTime !== started || stat.state === 'Z') reject(new TsruncError('tsrunc-init exited before it reached tsrunc'));
      else if (Date.now() > deadline) reject(new TsruncError('tsrunc-init did not reach tsrunc within 60 s'));
    }, 20);
  });
  failed.catch(() => {});
  return { failed, stop: () => clearInterval(timer) };
}
