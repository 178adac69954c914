import type { InitOps } from '../init/ops';
import { namespacesOf } from '../linux/namespaces';
import { lsmSupport } from '../linux/lsm';
import { boundingSet } from '../linux/capabilities';
import { PERSONALITY_DOMAINS, cpuMask } from '../linux/sched';
import type { CompiledFilter } from '../seccomp/filter';
import type { Process, Spec } from '../spec/types';
import { writePidFile, type StateStore } from '../state/store';
import { TsruncError } from '../sys/errors';
import type { Logger } from '../sys/log';
import { RealHostSide } from './host';
import { loadContainer, loadSavedConfig } from './load';
import { applyFromOutside, configureProcess, sessionKeyringName, type HostSide } from './setup';
import { becomeSubreaper, execInPlace, launchInit, SHIM_BINARY } from '../init/launch';

export interface ExecSetupOptions {
  spec: Spec;
  process: Process;
  /** The container's process: its namespaces are the ones joined. */
  containerPid: number;
  cgroupDir?: string;
  console?: { path: string } | { fd: number };
  preserveFds: number;
  /** The container's session keyring, joined as it is (none if it was created with --no-new-keyring). */
  sessionKeyring?: string;
  seccomp?: CompiledFilter;
  grantable?: bigint;
  log: Logger;
}

/**
 * The exec'd process, top to bottom: into the container's namespaces (user
 * first, mount last), a fork so the pid namespace applies, into its cgroup,
 * then the process settings and exec. Returns its host pid.
 */
export async function execSequence(ops: InitOps, host: HostSide, o: ExecSetupOptions): Promise<number> {
  const p = o.process;
  // Host paths resolve only until the mount namespace is joined.
  if (o.cgroupDir) await ops.setCloneCgroup(o.cgroupDir);
  const consoleFd = o.console && 'path' in o.console ? await ops.connectSocket(o.console.path) : o.console?.fd;
  const affinity = p.execCPUAffinity;
  if (affinity?.initial) await ops.setAffinity(cpuMask(affinity.initial, 'process.execCPUAffinity.initial'));
  // The cgroup namespace is entered once the process is in its cgroup (the kernel refuses to clone into
  // a cgroup outside the caller's cgroup namespace), and the mount namespace after it: from inside,
  // /proc no longer shows the container's process by its host pid.
  const all = namespacesOf(o.spec.linux?.namespaces, o.containerPid).map(({ type, flag, path }) => ({ type, flag, path }));
  const late = all.filter((n) => n.type === 'cgroup' || n.type === 'mount');
  await ops.joinNamespaces(all.filter((n) => !late.includes(n)).map(({ flag, path }) => ({ flag, path })));
  // A fork: joining a pid namespace applies to children only.
  const pid = await ops.clone(0);
  host.onPid(pid);
  if (!o.cgroupDir) host.joinCgroup(pid);
  if (late.length) await ops.joinNamespaces(late.map(({ flag, path }) => ({ flag, path })));
  if (o.sessionKeyring) await ops.joinSessionKeyring(o.sessionKeyring, 0);
  applyFromOutside(host, pid, p);
  if (affinity?.final) await ops.setAffinity(cpuMask(affinity.final, 'process.execCPUAffinity.final'));
  const personality = o.spec.linux?.personality;
  await configureProcess(ops, p, {
    preserveFds: o.preserveFds, consoleFd, setgroups: host.setgroupsAllowed?.(o.containerPid) !== false, seccomp: o.seccomp, lsm: lsmSupport(), grantable: o.grantable,
    personality: personality ? PERSONALITY_DOMAINS[personality.domain] : undefined, log: o.log,
  });
  await ops.finish();
  return pid;
}

export interface ExecOptions {
  store: StateStore;
  id: string;
  process: Process;
  detach: boolean;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds: number;
  callerPid: number;
  env: NodeJS.ProcessEnv;
  log: Logger;
}

/**
 * `exec`: a new process in a running container. Detached, it is re-parented
 * to the caller's subreaper (containerd's shim reaps it) and its pid written;
 * in the foreground the caller becomes tsrunc-shim and exits with the
 * process's status. The container's state is never changed.
 */
export async function execInContainer(o: ExecOptions): Promise<number> {
  const { record, status, dir } = loadContainer(o.store, o.id);
  if (status !== 'running') throw new TsruncError(`cannot exec in a container that is ${status}`);
  const spec = loadSavedConfig(dir);
  if (o.process.terminal && o.detach && o.consoleSocket === undefined) {
    throw new TsruncError('exec --tty --detach needs --console-socket to send the pty to');
  }
  const seccomp = spec.linux?.seccomp ? (await import('../seccomp/filter')).compileSeccomp(spec.linux.seccomp, o.log) : undefined;
  if (!o.detach) becomeSubreaper();
  const launched = await launchInit({ preserveFds: o.preserveFds, supervision: { kind: o.detach ? 'caller' : 'self' }, consolePair: !!o.process.terminal && !o.detach && o.consoleSocket === undefined });
  const host = new RealHostSide(spec, record.cgroup, () => '{}', () => {}, record.bundle);
  let pid: number;
  try {
    pid = await execSequence(launched.channel, host, {
      spec, process: o.process, containerPid: record.pid!,
      cgroupDir: record.cgroup?.mode === 'unified' ? record.cgroup.dirs[''] : undefined,
      console: o.consoleSocket !== undefined ? { path: o.consoleSocket } : launched.consoleFd !== undefined ? { fd: launched.consoleFd } : undefined,
      preserveFds: o.preserveFds, seccomp, grantable: boundingSet(o.callerPid), log: o.log,
      sessionKeyring: record.noNewKeyring ? undefined : sessionKeyringName(o.id),
    });
    await launched.channel.awaitExec('exec');
  } catch (err) {
    launched.kill();
    throw err;
  } finally {
    launched.channel.close();
  }
  if (o.pidFile) writePidFile(o.pidFile, pid);
  if (o.detach) return 0;
  // Foreground: become tsrunc-shim (no state directory: an exec'd process's end is not the container's).
  const env = Object.entries(o.env).map(([k, v]) => `${k}=${v}`);
  const keep = launched.consoleKeep !== undefined ? [launched.consoleKeep] : [];
  return execInPlace(SHIM_BINARY, ['tsrunc-shim', 'foreground', '-', String(pid), String(launched.consoleKeep ?? -1), '--'], env, keep);
}

/** The process of an exec without --process: the container's own, with the command line's changes (runc's rules). */
export function processFromFlags(base: Process, args: string[], f: {
  cwd?: string; env: string[]; user?: string; additionalGids: string[]; caps: string[]; noNewPrivs: boolean; tty: boolean;
  processLabel?: string; apparmor?: string;
}): Process {
  const p: Process = JSON.parse(JSON.stringify(base)) as Process;
  p.args = args;
  p.terminal = f.tty;
  if (f.cwd !== undefined) p.cwd = f.cwd;
  const env = new Map((p.env ?? []).map((kv) => [kv.split('=')[0], kv]));
  for (const kv of f.env) env.set(kv.split('=')[0], kv.includes('=') ? kv : `${kv}=`);
  p.env = [...env.values()];
  if (f.user !== undefined) {
    const m = /^(\d+)(?::(\d+))?$/.exec(f.user);
    if (!m) throw new TsruncError(`--user ${JSON.stringify(f.user)}: must be UID[:GID] (numbers)`);
    p.user = { ...p.user, uid: Number(m[1]), gid: m[2] !== undefined ? Number(m[2]) : p.user.gid };
  }
  if (f.additionalGids.length) {
    p.user.additionalGids = f.additionalGids.map((g) => {
      if (!/^\d+$/.test(g)) throw new TsruncError(`--additional-gids ${JSON.stringify(g)}: must be a number`);
      return Number(g);
    });
  }
  if (f.caps.length) {
    const caps = (p.capabilities ??= {});
    for (const c of f.caps) {
      for (const set of ['bounding', 'effective', 'permitted'] as const) (caps[set] ??= []).push(c);
      // Ambient needs the inheritable bit: only where the config already grants inheritable ones, as runc does.
      if (caps.inheritable) (caps.ambient ??= []).push(c);
    }
  }
  if (f.noNewPrivs) p.noNewPrivileges = true;
  if (f.processLabel !== undefined) p.selinuxLabel = f.processLabel;
  if (f.apparmor !== undefined) p.apparmorProfile = f.apparmor;
  return p;
}

