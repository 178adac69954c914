import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createCgroup, planCgroup } from '../cgroups/manager';
import { destroyCgroup } from '../cgroups/destroy';
import { parseProcCgroup, readHierarchies } from '../cgroups/detect';
import { callerCgroupView, isPermissionError, requestedResources } from '../cgroups/rootless';
import { checkUserNamespace, currentCaller } from '../linux/rootless';
import type { CgroupRecord } from '../cgroups/types';
import { launchInit, type LaunchedInit, type Supervision } from '../init/launch';
import { checkNamespacePath } from '../linux/namespaces';
import { loadConfig, ValidationError } from '../config/validate';
import { lsmSupport, type LsmSupport } from '../linux/lsm';
import { boundingSet } from '../linux/capabilities';
import type { Spec } from '../spec/types';
import { readProcStat } from '../linux/proc';
import { StateStore, validateId, writeAtomic, writePidFile, type ContainerRecord } from '../state/store';
import { TsruncError } from '../sys/errors';
import type { Logger } from '../sys/log';
import { RealHostSide } from './host';
import { runPoststopHooks } from './hooks';
import { sessionKeyringName, setupContainer } from './setup';
import { ociState } from './status';
import { mkfifo } from '../sys/libc';
import { killAndWait, unmountUnder } from './teardown';

export interface CreateOptions {
  store: StateStore;
  id: string;
  /** Absolute path of the bundle. */
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  /**
   * Foreground `run`: when process.terminal is true and no --console-socket
   * is given, the init gets one end of a socketpair and the caller keeps the
   * other for tsrunc-shim, which then relays the terminal.
   */
  ownConsole?: boolean;
  noPivot: boolean;
  /** --no-new-keyring: keep the caller's session keyring. */
  noNewKeyring: boolean;
  preserveFds: number;
  supervision: Supervision;
  systemdCgroup: boolean;
  /**
   * --rootless (resolved: true unless tsrunc is host root, by default): a cgroup the caller cannot
   * create is skipped when no limits are asked (src/cgroups/rootless.ts).
   */
  rootless?: boolean;
  /** The process that ran tsrunc: its cgroup is where relative cgroupsPaths go. */
  callerPid: number;
  log: Logger;
}

export interface Created {
  record: ContainerRecord;
  pid: number;
  dir: string;
  spec: Spec;
  /** With ownConsole: the caller's end of the console socketpair (the pty master arrives on it). */
  console?: number;
}

/**
 * `create`: validate everything that can be checked up front, claim the id,
 * build the container through tsrunc-init, and leave its process waiting on
 * exec.fifo for `start`. Whatever fails, nothing is left behind: no state
 * directory, cgroup, mount (they all live in the container's own mount
 * namespace) or process.
 */
export async function createContainer(o: CreateOptions): Promise<Created> {
  validateId(o.id);
  if (o.systemdCgroup) checkSystemd();
  const spec = loadConfig(o.bundle);
  const caller = currentCaller();
  checkUserNamespace(caller, spec.linux?.namespaces);
  const rootfs = resolve(o.bundle, spec.root!.path);
  if (!isDirectory(rootfs)) throw new TsruncError(`root.path: ${JSON.stringify(rootfs)} is not a directory`);
  (spec.linux?.namespaces ?? []).forEach((ns, i) => {
    if (ns.path) checkNamespacePath(ns.type, ns.path, `linux.namespaces[${i}] (${ns.type})`);
  });
  const ownConsole = !!spec.process?.terminal && o.consoleSocket === undefined && !!o.ownConsole;
  if (spec.process?.terminal && o.consoleSocket === undefined && !ownConsole) {
    throw new TsruncError('process.terminal is true: --console-socket is required to receive the pty when tsrunc does not stay attached');
  }
  if (o.consoleSocket !== undefined) checkSocket(o.consoleSocket, '--console-socket');
  if (o.store.exists(o.id)) throw new TsruncError(`container with id ${JSON.stringify(o.id)} already exists`);
  const lsm = lsmSupport();
  checkLsm(spec, lsm);
  const own = ownCgroups(o.callerPid);
  const planned = planCgroup(spec.linux?.cgroupsPath, o.id, undefined, undefined, own, o.systemdCgroup ? {} : undefined);
  // Rootless without a cgroup it may create and no limits asked: none (the container stays in the caller's).
  let cgroup: CgroupRecord | undefined = planned;
  if (o.systemdCgroup) warnSystemdAnnotations(spec, o.log);
  const seccomp = spec.linux?.seccomp ? (await import('../seccomp/filter')).compileSeccomp(spec.linux.seccomp, o.log) : undefined;
  if (seccomp?.notify && spec.linux?.seccomp?.listenerPath) checkSocket(spec.linux.seccomp.listenerPath, 'linux.seccomp.listenerPath');

  const dir = o.store.claim(o.id);
  const creator = readProcStat(o.callerPid);
  const record: ContainerRecord = {
    ociVersion: spec.ociVersion, id: o.id, bundle: o.bundle, rootfs, created: new Date().toISOString(),
    annotations: spec.annotations, creating: creator ? { pid: o.callerPid, startTime: creator.startTime } : undefined,
    shim: o.supervision.kind === 'shim', cgroup,
    hostMounts: !(spec.linux?.namespaces ?? []).some((n) => n.type === 'mount') || undefined,
    noNewKeyring: o.noNewKeyring || undefined,
  };
  let launched: LaunchedInit | undefined;
  try {
    // The container is built from this copy: later edits of the bundle's config.json change nothing.
    writeFileSync(`${dir}/config.json`, JSON.stringify(spec));
    // Writable by anyone (mode set past the umask): the container's process opens it after switching to its user.
    mkfifo(`${dir}/exec.fifo`, 0o622);
    chmodSync(`${dir}/exec.fifo`, 0o622);
    o.store.write(record);
    // systemd driver: the scope and its limits come with the container's process (placeInCgroup below).
    if (cgroup && !cgroup.systemd) {
      cgroup = await createOrSkipCgroup(cgroup, spec, !!o.rootless, o.log);
      record.cgroup = cgroup;
      o.store.write(record);
      if (cgroup) {
        // The limits are in place before the container's first process exists (it joins right after clone).
        const { managerFor } = await import('../cgroups/manager');
        // Rootless, device rules are not applied (as runc): no node can be made in a user namespace, and
        // the host's nodes bound in keep the host's permissions.
        (await managerFor(cgroup)).apply(spec.linux?.resources ?? {}, { warn: (m) => o.log.warn(m), devices: spec.linux?.devices, applyDevices: !o.rootless });
      }
    }
    const hierarchies = readHierarchies();
    launched = await launchInit({ preserveFds: o.preserveFds, supervision: o.supervision, consolePair: ownConsole });
    const stateJson = (pid: number, status: 'creating' | 'created') => JSON.stringify({ ...ociState({ ...record, pid }, status), pid });
    const host = new RealHostSide(spec, cgroup, stateJson, (pid) => {
      record.pid = pid;
      record.pidStartTime = readProcStat(pid)?.startTime;
      o.store.write(record);
      // For tsrunc-shim, which waits to learn which of its children is the container.
      writeAtomic(`${dir}/pid`, String(pid));
    }, o.bundle, planned.systemd ? async (pid) => {
      // The scope is made around the process right after clone, before it runs anything configured.
      const { startScope } = await import('../cgroups/systemd-unit');
      await startScope(planned, pid, {
        id: o.id, resources: spec.linux?.resources ?? {}, devices: spec.linux?.devices, warn: (m) => o.log.warn(m), persist: () => o.store.write(record),
      });
    } : undefined);
    const pid = await setupContainer(launched.channel, host, {
      spec, bundle: o.bundle, rootfs, stateDir: dir, noPivot: o.noPivot, preserveFds: o.preserveFds,
      sessionKeyring: o.noNewKeyring ? undefined : sessionKeyringName(o.id),
      console: o.consoleSocket !== undefined ? { path: o.consoleSocket } : launched.consoleFd !== undefined ? { fd: launched.consoleFd } : undefined,
      seccomp, lsm, cgroup, cgroupHierarchies: hierarchies, log: o.log, grantable: boundingSet(o.callerPid),
      callerCgroup: cgroup ? undefined : callerCgroupView(planned.mode, hierarchies, own), rootless: !caller.hostRoot,
    });
    launched.channel.close();
    if (o.pidFile) writePidFile(o.pidFile, pid);
    delete record.creating;
    o.store.write(record);
    return { record, pid, dir, spec, console: launched.consoleKeep };
  } catch (err) {
    await abortCreate(o, spec, record, cgroup, launched);
    throw err;
  }
}

/** Undo a half-built container, in reverse order; a failure here is logged, never hides the original error. */
async function abortCreate(o: CreateOptions, spec: Spec, record: ContainerRecord, cgroup: CgroupRecord | undefined, launched?: LaunchedInit): Promise<void> {
  try {
    launched?.channel.close();
    launched?.kill();
    if (record.pid !== undefined) await killAndWait(record.pid, record.pidStartTime);
    if (record.hostMounts) await unmountUnder(record.rootfs);
    if (cgroup) await destroyCgroup(cgroup, (m) => o.log.warn(m));
  } catch (err) {
    o.log.warn(`cleaning up after a failed create: ${(err as Error).message}`);
  } finally {
    // Under the container's lock: a tsrunc-shim recording how the init ended writes under it too.
    const release = await o.store.lock(o.id).catch(() => undefined);
    try {
      o.store.remove(o.id);
    } finally {
      release?.();
    }
  }
  // The spec's lifecycle continues at "delete" when creation fails: poststop hooks run.
  if (spec.hooks?.poststop?.length) await runPoststopHooks(spec.hooks.poststop, JSON.stringify(ociState(record, 'stopped')), o.bundle, o.log);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** sd_booted(3), as runc checks it: systemd as init makes /run/systemd/system. */
function checkSystemd(): void {
  if (!existsSync('/run/systemd/system')) throw new TsruncError('systemd is not running: cannot use --systemd-cgroup (no /run/systemd/system)');
}

/** runc turns org.systemd.property.* annotations into unit properties; tsrunc does not (yet): said, never silently dropped. */
function warnSystemdAnnotations(spec: Spec, log: Logger): void {
  const keys = Object.keys(spec.annotations ?? {}).filter((k) => k.startsWith('org.systemd.property.'));
  if (keys.length) log.warn(`annotations ${keys.join(', ')} not applied: tsrunc does not set extra systemd unit properties from annotations`);
}

/** A label for an LSM the host does not have is an error, up front (never silently ignored). */
function checkLsm(spec: Spec, lsm: LsmSupport): void {
  const problems = [];
  if (spec.process?.apparmorProfile && !lsm.apparmor) problems.push({ path: '/process/apparmorProfile', message: 'AppArmor is not enabled on this host' });
  if (spec.process?.selinuxLabel && !lsm.selinux) problems.push({ path: '/process/selinuxLabel', message: 'SELinux is not enabled on this host' });
  if (spec.linux?.mountLabel && !lsm.selinux) problems.push({ path: '/linux/mountLabel', message: 'SELinux is not enabled on this host' });
  if (problems.length) throw new ValidationError('config.json', problems);
}

/** Checks a unix socket path up front, so a wrong one fails before anything is built (tsrunc-init connects to it). */
function checkSocket(path: string, what: string): void {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new TsruncError(`${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  if (!st.isSocket()) throw new TsruncError(`${what} ${path}: not a unix socket`);
}

/**
 * Creates the container's cgroup. Rootless (--rootless), a cgroup the
 * caller may not create is skipped, leaving the container in the caller's
 * cgroups, unless the config asks for limits: then the error names them.
 */
async function createOrSkipCgroup(cgroup: CgroupRecord, spec: Spec, rootless: boolean, log: Logger): Promise<CgroupRecord | undefined> {
  try {
    createCgroup(cgroup);
    return cgroup;
  } catch (err) {
    if (!rootless || !isPermissionError(err)) throw err;
    await destroyCgroup(cgroup);
    const asked = requestedResources(spec.linux?.resources);
    if (asked.length) {
      throw new TsruncError(`${asked.join(', ')}: cannot be applied: running rootless, tsrunc may not create the container's cgroup (${(err as Error).message}); delegate a cgroup v2 subtree to this user, or remove the limits`);
    }
    log.debug(`rootless: no cgroup of its own for the container (${(err as Error).message}); it stays in the caller's cgroups`);
    return undefined;
  }
}

/** The caller's own cgroups, per hierarchy: where relative cgroupsPaths are resolved, as runc does. */
function ownCgroups(pid: number): Map<string, string> {
  return parseProcCgroup(readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
}
