/**
 * The flows Docker and podman share: their CLIs take the same commands and
 * flags for these (run, exec, ps, inspect, pause, update, stop, kill,
 * start, restart, logs), so one test body serves both. Each test file
 * describes its engine as a CliEngine, registers these flows inside its
 * describe block, and keeps its engine-specific flows to itself.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { expect, test } from 'vitest';
import { alive, catches, cgroupDir, commOf, cpuShares, frozen, memoryLimit, onTerminal, ppidOf, processesMentioning, runtimeIds, show, start, waitFor, type Result, type RunOptions } from './lib';

export interface CliEngine {
  /** The CLI's name, as the test titles say it: "docker", "podman". */
  cliName: string;
  /** Runs the CLI, pointed at the suite's daemon or storage, to its end. */
  runCli(args: string[], o?: RunOptions): Promise<Result>;
  /** The full command line (program first) for args, for the runs started on a terminal or in the background. */
  commandLine(args: string[]): string[];
  /** The environment the CLI needs (its socket, config, storage). */
  env: NodeJS.ProcessEnv;
  /** The arguments of a `run` of cmd with flags: the engine's own flags (runtime, network, pull policy) and its name for the image. */
  runArgs(flags: string[], cmd: string[]): string[];
  /** A container name not used before in this file. */
  newName(): string;
  /** The runtime's --root under which the engine has it keep its containers. */
  runtimeRoot: string;
  /** The process that a detached container's pid 1 is a child of, and its comm. */
  monitor: { name: string; comm: RegExp };
  /** The inspect statuses of a container whose process has exited (podman says "stopped" until its cleanup marks it "exited"). */
  exitedStatuses: string[];
  /**
   * The engine's own words before the runtime's message when a runtime
   * command fails, as a pattern for the command (docker: "OCI runtime
   * create failed"); undefined for podman, which has no fixed wording.
   */
  runtimeFailure?: (command: string) => RegExp;
  /** Asserts that nothing of the engine's containers is left (engine, runtime state, mounts, monitors). */
  expectNoTrace(): Promise<void>;
  /** More context for a failed start (the daemon's log); none when there is no daemon. */
  logTail?(): string;
}

/** The engine's inspect, run, wait helpers; the test files use them for their own flows too. */
export function cliEngineHelpers(engine: CliEngine) {
  /** The CLI with args, to its end. */
  const cli = (args: string[], timeoutMs?: number) => engine.runCli(args, { timeoutMs });
  /** `<cli> run` of cmd with flags, to its end. */
  const runContainer = (flags: string[], cmd: string[], input?: string) => engine.runCli(engine.runArgs(flags, cmd), { input });

  async function inspect(name: string, format: string): Promise<string> {
    const r = await cli(['inspect', '-f', format, name]);
    expect(r.code, show(r)).toBe(0);
    return r.stdout.trim();
  }

  /** Starts a detached container and returns its pid 1. */
  async function runDetached(name: string, cmd: string[] = ['sleep', '1000'], flags: string[] = []): Promise<number> {
    const r = await runContainer(['-d', '--name', name, ...flags], cmd);
    expect(r.code, engine.logTail ? `${show(r)}\n${engine.logTail()}` : show(r)).toBe(0);
    expect(await inspect(name, '{{.State.Status}}')).toBe('running');
    return Number(await inspect(name, '{{.State.Pid}}'));
  }

  /** Waits for the container to exit and returns its exit code. */
  async function waitExited(name: string): Promise<number> {
    await waitFor(`${name} to exit`, async () => engine.exitedStatuses.includes(await inspect(name, '{{.State.Status}}')), 20_000);
    return Number(await inspect(name, '{{.State.ExitCode}}'));
  }

  return { cli, runContainer, inspect, runDetached, waitExited };
}

/** Registers the shared flows as tests (call inside the engine's describe). */
export function registerCliEngineFlows(engine: CliEngine): void {
  const { cliName, newName } = engine;
  const { cli, runContainer, inspect, runDetached, waitExited } = cliEngineHelpers(engine);

  test('run --rm: stdout, exit codes 0 and 3, nothing left', async () => {
    const r = await runContainer(['--rm'], ['sh', '-c', 'echo hello from $(cat /proc/1/comm)']);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toBe('hello from sh\n');
    const r3 = await runContainer(['--rm'], ['sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r3.code, show(r3)).toBe(3);
    expect(r3.stdout).toBe('out\n');
    expect(r3.stderr).toBe('err\n');
    await engine.expectNoTrace();
  });

  test(`killed → 137: ${cliName} kill of a detached and of a foreground container`, async () => {
    const a = newName();
    await runDetached(a);
    const k = await cli(['kill', a]);
    expect(k.code, show(k)).toBe(0);
    expect(await waitExited(a)).toBe(137);
    const b = newName();
    const [program, ...args] = engine.commandLine(engine.runArgs(['--rm', '--name', b], ['sleep', '1000']));
    const fg = start(program, args, { env: engine.env });
    await waitFor(`${b} to run`, async () => (await cli(['inspect', '-f', '{{.State.Status}}', b])).stdout.trim() === 'running');
    await cli(['kill', b]);
    const f = await fg.result;
    expect(f.code, show(f)).toBe(137);
  });

  test(`stdin: ${cliName} run -i`, async () => {
    const r = await runContainer(['--rm', '-i'], ['sh', '-c', 'read x; echo got $x; cat; echo EOF'], 'hello\nline 2\nline 3\n');
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toBe('got hello\nline 2\nline 3\nEOF\n');
  });

  test(`tty: ${cliName} run -t on a terminal`, async () => {
    const r = await onTerminal(engine.commandLine(engine.runArgs(['--rm', '-t'], ['sh', '-c', 'tty; stty size; exit 3'])), { env: engine.env, timeoutMs: 30_000 });
    expect(r.stdout, show(r)).toMatch(/\/dev\/pts\/0\r*\n/);
    expect(r.code, show(r)).toBe(3);
  });

  test(`detached: ${cliName} ps, the container is a child of ${engine.monitor.name}`, async () => {
    const name = newName();
    const pid = await runDetached(name);
    const ps = await cli(['ps', '--format', '{{.Names}} {{.Status}}']);
    expect(ps.stdout).toMatch(new RegExp(`^${name} Up`, 'm'));
    // The runtime keeps the container's state where the engine asked (so the no-trace checks look in the right place).
    const id = await inspect(name, '{{.Id}}');
    expect(await runtimeIds(engine.runtimeRoot)).toContain(id);
    expect(commOf(pid)).toBe('sleep');
    expect(commOf(ppidOf(pid))).toMatch(engine.monitor.comm);
  });

  test('exec: exit code, stdout, -i, -t, detached', async () => {
    const name = newName();
    const pid = await runDetached(name);
    const r = await cli(['exec', name, 'sh', '-c', 'echo in $(cat /proc/1/comm); exit 4']);
    expect(r.code, show(r)).toBe(4);
    expect(r.stdout).toBe('in sleep\n');
    const i = await engine.runCli(['exec', '-i', name, 'cat'], { input: 'piped\n' });
    expect(i.code, show(i)).toBe(0);
    expect(i.stdout).toBe('piped\n');
    const t = await onTerminal(engine.commandLine(['exec', '-t', name, 'sh', '-c', 'tty; exit 5']), { env: engine.env, timeoutMs: 30_000 });
    expect(t.stdout, show(t)).toMatch(/\/dev\/pts\/\d+/);
    expect(t.code, show(t)).toBe(5);
    const d = await cli(['exec', '-d', name, 'sleep', '999']);
    expect(d.code, show(d)).toBe(0);
    await waitFor('the detached exec', () => processesMentioning('sleep 999').some((p) => alive(p.pid) && cgroupDir(p.pid, 'pids').dir === cgroupDir(pid, 'pids').dir));
  });

  test('pause and unpause', async () => {
    const name = newName();
    const pid = await runDetached(name);
    const p = await cli(['pause', name]);
    expect(p.code, show(p)).toBe(0);
    expect(await inspect(name, '{{.State.Status}}')).toBe('paused');
    expect(frozen(pid)).toBe(true);
    const u = await cli(['unpause', name]);
    expect(u.code, show(u)).toBe(0);
    expect(await inspect(name, '{{.State.Status}}')).toBe('running');
    expect(frozen(pid)).toBe(false);
  });

  test('update: memory and cpu shares', async () => {
    const name = newName();
    const pid = await runDetached(name, ['sleep', '1000'], ['--memory', '128m', '--memory-swap', '256m', '--cpu-shares', '1024']);
    expect(memoryLimit(pid)).toBe(String(128 << 20));
    const u = await cli(['update', '--memory', '64m', '--memory-swap', '128m', '--cpu-shares', '512', name]);
    expect(u.code, show(u)).toBe(0);
    expect(memoryLimit(pid)).toBe(String(64 << 20));
    expect(cpuShares(pid)).toBe(cgroupDir(pid, 'cpu').v2 ? '20' : '512');
  });

  test('stop: SIGTERM, then SIGKILL after the timeout', async () => {
    const a = newName();
    await runDetached(a, ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done']);
    const t0 = Date.now();
    const s = await cli(['stop', '-t', '20', a], 30_000);
    expect(s.code, show(s)).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(Number(await inspect(a, '{{.State.ExitCode}}'))).toBe(0);
    // sleep as pid 1 has no SIGTERM handler, so the kernel drops SIGTERM: SIGKILL after -t.
    const b = newName();
    await runDetached(b, ['sleep', '1000']);
    const t1 = Date.now();
    const s2 = await cli(['stop', '-t', '1', b], 30_000);
    expect(s2.code, show(s2)).toBe(0);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(900);
    expect(Number(await inspect(b, '{{.State.ExitCode}}'))).toBe(137);
  });

  test('kill with a signal', async () => {
    const name = newName();
    const pid = await runDetached(name, ['sh', '-c', 'trap "exit 7" USR1; while :; do sleep 0.1; done']);
    await waitFor('the trap', () => catches(pid, 10));
    const k = await cli(['kill', '-s', 'USR1', name]);
    expect(k.code, show(k)).toBe(0);
    expect(await waitExited(name)).toBe(7);
  });

  test(`restart: ${cliName} start of a stopped container, ${cliName} restart`, async () => {
    const name = newName();
    const r = await runContainer(['--name', name], ['sh', '-c', 'echo run; exit 2']);
    expect(r.code, show(r)).toBe(2);
    const s = await cli(['start', '-a', name]);
    expect(s.code, show(s)).toBe(2);
    expect(s.stdout).toBe('run\n');
    const logs = await cli(['logs', name]);
    expect(logs.stdout).toBe('run\nrun\n');
    const b = newName();
    const pid = await runDetached(b, ['sleep', '1000']);
    const rs = await cli(['restart', '-t', '1', b], 30_000);
    expect(rs.code, show(rs)).toBe(0);
    expect(await inspect(b, '{{.State.Status}}')).toBe('running');
    expect(Number(await inspect(b, '{{.State.Pid}}'))).not.toBe(pid);
    expect(alive(pid)).toBe(false);
  });

  test(`a bad mount: ${cliName} shows the runtime's message, nothing is left`, async () => {
    // A file onto a directory of the image: only the runtime finds out.
    const r = await runContainer(['--rm', '--mount', 'type=bind,src=/etc/hostname,dst=/bin'], ['true']);
    // The engine's own exit codes for a container that could not start: 125 (126, 127 when the message says so).
    expect(r.code, show(r)).not.toBe(0);
    expect([125, 126, 127], show(r)).toContain(r.code);
    if (engine.runtimeFailure) expect(r.stderr).toMatch(engine.runtimeFailure('create'));
    expect(r.stderr).toContain('/etc/hostname');
    await engine.expectNoTrace();
  });

  test(`a missing binary: ${cliName} shows the runtime's message (exit 127), nothing is left`, async () => {
    const r = await runContainer(['--rm'], ['/no/such/binary']);
    expect(r.code, show(r)).toBe(127);
    if (engine.runtimeFailure) expect(r.stderr).toMatch(engine.runtimeFailure('(create|start)'));
    expect(r.stderr).toContain('/no/such/binary');
    await engine.expectNoTrace();
  });

  // What users hit with runc parity (issue 11): host network, --tmpfs, --read-only, a localtime bind.

  test(`--network host: the container is in the host's network namespace`, async () => {
    // The engine's "--network none" would conflict: this run asks for the host's instead.
    const args = engine.runArgs(['--rm', '--network', 'host'], ['readlink', '/proc/self/ns/net']);
    const i = args.findIndex((a, j) => a === '--network' && args[j + 1] === 'none');
    if (i >= 0) args.splice(i, 2);
    const r = await engine.runCli(args);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout.trim()).toBe(readlinkSync('/proc/self/ns/net'));
  });

  test(`--tmpfs: a tmpfs over a directory of the image, writable`, async () => {
    const r = await runContainer(['--rm', '--tmpfs', '/srv:rw,size=1m'], ['sh', '-c', 'grep " /srv " /proc/self/mountinfo | grep -c tmpfs; echo x > /srv/f && cat /srv/f']);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toBe('1\nx\n');
  });

  test(`--read-only: the root refuses writes, ${cliName}'s tmpfs mounts and /dev do not`, async () => {
    const r = await runContainer(['--rm', '--read-only', '--tmpfs', '/tmp'], ['sh', '-c', 'touch /x 2>/dev/null || echo root-ro; touch /tmp/y && echo tmp-rw; echo z > /dev/null && echo dev-ok']);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toBe('root-ro\ntmp-rw\ndev-ok\n');
  });

  test(`-v /etc/localtime:/etc/localtime:ro over the image's symlink: the host's zone file`, async () => {
    // The e2e image has /etc/localtime -> /usr/share/zoneinfo/UTC, as Debian's images do.
    const r = await runContainer(['--rm', '-v', '/etc/localtime:/etc/localtime:ro'], ['md5sum', '/etc/localtime']);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout.split(' ')[0]).toBe(createHash('md5').update(readFileSync('/etc/localtime')).digest('hex'));
  });
}
