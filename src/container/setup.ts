import { basename, isAbsolute, join } from 'node:path';
import type { HookRequest, IdmapRequest, InitOps } from '../init/ops';
import { CLONE, MS, S_IFBLK, S_IFCHR, S_IFIFO, makedev } from '../linux/constants';
import { cleanPath, isAtOrBelow, parseMountOptions, type MountOptions } from '../linux/mounts';
import { planNamespaces, type NamespacePlan } from '../linux/namespaces';
import { capabilityMasks } from '../linux/capabilities';
import { rlimitNumber } from '../linux/rlimits';
import { sysctlPath } from '../linux/sysctl';
import { cpuMask, ioprioValue, PERSONALITY_DOMAINS, schedAttr } from '../linux/sched';
import { apparmorExecFile, withMountLabel, type LsmSupport } from '../linux/lsm';
import { cloneIntoDir } from '../cgroups/manager';
import type { CgroupRecord } from '../cgroups/types';
import type { CompiledFilter } from '../seccomp/filter';
import type { Device, Hook, IdMapping, Mount, Process, Spec } from '../spec/types';
import { TsruncError } from '../sys/errors';
import type { Logger } from '../sys/log';

/**
 * What the setup needs from the host side, done by tsrunc itself rather
 * than by tsrunc-init: id maps are written from outside the new user
 * namespace, the cgroup is joined from outside, hooks of the runtime
 * namespace run here. Tests give a recording fake.
 */
export interface HostSide {
  /** Kind of the host path a bind mount takes as source. */
  statSource(path: string): 'dir' | 'file' | 'missing';
  writeIdMaps(pid: number, uidMap: string, gidMap: string): void;
  /** Puts the process in the container's cgroup (asynchronous with the systemd driver: a D-Bus job). */
  joinCgroup(pid: number): void | Promise<void>;
  setOomScoreAdj(pid: number, score: number): void;
  /** The container process exists: record it (so a failed create can clean it up). */
  onPid(pid: number): void;
  /** prestart and createRuntime hooks, in the runtime's namespaces, with the state at that moment. */
  runRuntimeHooks(kind: 'prestart' | 'createRuntime', pid: number): Promise<void>;
  /** The state JSON a hook gets on stdin for the given moment. */
  hookState(pid: number, status: 'creating' | 'created'): string;
  /** process.ioPriority and process.scheduler, applied from outside to the container process. */
  setIoPriority(pid: number, ioprio: number): void;
  setScheduler(pid: number, attr: Buffer): void;
  /** The containerProcessState JSON a seccomp listener receives with the notify fd. */
  seccompListenerState(pid: number): string;
  /** The mounts of the host mount namespace (for the rootfs' parent mount). */
  mountPointOf(path: string): string;
  /** Whole procfs and sysfs mounts in the mount namespace of pid (mount points as it sees them), deepest first. */
  procSysfsMountsOf(pid: number): string[];
  /** Whether the user namespace pid is in allows setgroups(2) (/proc/<pid>/setgroups is not "deny"). */
  setgroupsAllowed(pid: number): boolean;
}

export interface SetupOptions {
  spec: Spec;
  bundle: string;
  /** Absolute host path of the root filesystem. */
  rootfs: string;
  /** The container's state directory (holds exec.fifo). */
  stateDir: string;
  noPivot: boolean;
  preserveFds: number;
  /** The session keyring to join ("_ses.<id>"), or none with --no-new-keyring. */
  sessionKeyring?: string;
  /** Where the pty master goes when process.terminal is true: --console-socket, or an fd the init already has. */
  console?: { path: string } | { fd: number };
  /** linux.seccomp, compiled. */
  seccomp?: CompiledFilter;
  /** Which LSMs the host has (process.apparmorProfile, selinuxLabel, linux.mountLabel were checked against it). */
  lsm?: LsmSupport;
  /** The bounding set the container's process starts with (the caller's). */
  grantable?: bigint;
  cgroup?: CgroupRecord;
  cgroupHierarchies?: { key: string; mountPoint: string; controllers: string[]; version: 1 | 2 }[];
  /** Without a cgroup of its own (rootless, not delegated): the caller's cgroups, which a "cgroup" mount shows (as runc). */
  callerCgroup?: CgroupRecord;
  /** tsrunc is not host root: the maps of a new user namespace are written while the process is dumpable. */
  rootless?: boolean;
  log: Logger;
}

/** The container's session keyring, as runc names it. */
export function sessionKeyringName(id: string): string {
  return `_ses.${id}`;
}

/** Key permission bits (linux/keyctl.h): search for the possessor's uid, and for others. */
const KEY_USR_SEARCH = 0x080000, KEY_OTH_SEARCH = 0x08;

const DEFAULT_DEVICES: Device[] = [
  { type: 'c', path: '/dev/null', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/zero', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/full', major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/random', major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/urandom', major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/tty', major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
];

const DEV_SYMLINKS: [string, string][] = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
];

/**
 * Builds the container, top to bottom, through tsrunc-init: namespaces, the
 * process, its cgroup, the root filesystem and its mounts, devices, the new
 * root, then the process settings. Returns the container process's host pid
 * once it waits for `start`.
 */
export async function setupContainer(ops: InitOps, host: HostSide, o: SetupOptions): Promise<number> {
  const { spec } = o;
  const linux = spec.linux ?? {};
  const ns = planNamespaces(linux.namespaces);
  const userns = ns.has('user');

  // 0. Host paths are opened while they resolve, as the host's root: the sockets, the cgroup, and the
  // state directory (exec.fifo) which a container root in a user namespace could not reach.
  await ops.setStartFifo(o.stateDir);
  const cloneCgroup = o.cgroup && cloneIntoDir(o.cgroup);
  if (cloneCgroup) await ops.setCloneCgroup(cloneCgroup);
  const consoleFd = o.console && 'path' in o.console ? await ops.connectSocket(o.console.path) : o.console?.fd;
  const listenerPath = o.seccomp?.notify ? linux.seccomp?.listenerPath : undefined;
  const listenerFd = listenerPath ? await ops.connectSocket(listenerPath) : undefined;
  // In a user namespace the container's root may not traverse host directories on the way to a bind
  // source (a 0700 parent): each source is cloned as a detached mount now, and attached later.
  // An id-mapped mount is made the same way (the mapping is set on the detached copy). Without host
  // root (rootless) there is no privilege to clone with (open_tree needs CAP_SYS_ADMIN where the
  // host's mounts live): binds are made inside, from sources the caller can reach itself, as runc.
  const trees = new Map<Mount, number>();
  for (const m of spec.mounts ?? []) {
    const opts = parseMountOptions(m);
    if (!opts.bind || m.type === 'cgroup' || m.type === 'cgroup2') continue;
    const idmap = mountIdmap(m, opts, linux);
    if ((userns && !o.rootless) || idmap) trees.set(m, await ops.openTree(bindSource(host, o, m).source, opts.recursive, idmap));
  }

  // 1. Namespaces: join those given by path, create the rest with the container process.
  if (ns.unshareTime) {
    await ops.unshare(CLONE.NEWTIME);
    await ops.writeFile('/proc/self/timens_offsets', timeOffsets(linux.timeOffsets), false);
  }
  if (ns.join.length) await ops.joinNamespaces(ns.join.map(({ flag, path }) => ({ flag, path })));
  // Affinity "initial": where the process runs before it is in its cgroup (inherited through clone).
  const affinity = spec.process?.execCPUAffinity;
  if (affinity?.initial) await ops.setAffinity(cpuMask(affinity.initial, 'process.execCPUAffinity.initial'));
  const pid = await ops.clone(ns.cloneFlags);
  host.onPid(pid);

  // 2. From outside: id maps, cgroup, OOM score. Nothing configured has run yet.
  if (ns.isNew('user')) {
    // Non-dumpable, the process's /proc files are root's: only host root could write its maps.
    if (o.rootless) await ops.setDumpable(true);
    host.writeIdMaps(pid, idMap(linux.uidMappings), idMap(linux.gidMappings));
    if (o.rootless) await ops.setDumpable(false);
  }
  // In a user namespace the process is still the unmapped host root: it becomes the namespace's root,
  // or it could not even create a file in the container's own tmpfs (EOVERFLOW).
  if (userns && (!ns.isNew('user') || mapsRoot(linux.uidMappings, linux.gidMappings))) await ops.becomeRoot();
  // Not cloned into it: joined now (v1; or a systemd scope, made by systemd around this pid).
  if (o.cgroup && !cloneCgroup) await host.joinCgroup(pid);
  if (spec.process) applyFromOutside(host, pid, spec.process);
  // A session keyring of the container's own, not the caller's (as runc), searchable by the process once it
  // changes user: by its uid outside a user namespace, by "other" inside one (its uid there is not the key's).
  if (o.sessionKeyring) await ops.joinSessionKeyring(o.sessionKeyring, userns ? KEY_OTH_SEARCH : KEY_USR_SEARCH);
  // After joining the cgroup, so that it is the root of the new cgroup namespace (or inside the one joined).
  if (ns.unshareCgroup) await ops.unshare(CLONE.NEWCGROUP);
  if (ns.joinAfterCgroup.length) await ops.joinNamespaces(ns.joinAfterCgroup);
  if (affinity?.final) await ops.setAffinity(cpuMask(affinity.final, 'process.execCPUAffinity.final'));

  // A new network namespace gets its loopback up (runc's "loopback" network), before anything configured runs.
  if (ns.isNew('network')) await ops.loopbackUp();

  // 3. The root filesystem and everything mounted in it.
  await prepareRootfs(ops, host, o, ns);
  for (const m of spec.mounts ?? []) await mountEntry(ops, host, o, m, ns, trees.get(m));
  // With the host's /dev bound in, it has its devices already: none are made (as in runc).
  // Without host root (rootless podman runs tsrunc as root of its user namespace), nodes are bound too, as runc does.
  if (needsDevSetup(spec.mounts)) await createDevices(ops, withDefaults(linux.devices ?? []), userns || !!o.rootless);

  // 4. Hooks that see the container's namespaces but still the host's root.
  await host.runRuntimeHooks('prestart', pid);
  await host.runRuntimeHooks('createRuntime', pid);
  for (const hook of spec.hooks?.createContainer ?? []) await ops.runHook(hookRequest(hook, host.hookState(pid, 'creating')));

  // 5. Enter the new root and finish it.
  if (spec.process) await ops.mkdirAll(spec.process.cwd, 0o755, true);
  if (!ns.has('mount')) await ops.chroot(o.rootfs, false);
  else if (o.noPivot) {
    await hideHostProcSysfs(ops, host, pid, o.rootfs);
    await ops.chroot(o.rootfs, true);
  }
  else await ops.pivotRoot(o.rootfs);
  // A read-only /dev was mounted writable so its devices, links and /dev/pts could be made: now read-only (runc's finalizeRootfs).
  const devRo = readonlyDev(spec.mounts);
  if (devRo !== undefined) await ops.mount({ target: '/dev', flags: MS.BIND | MS.REMOUNT | devRo, inRoot: true });
  if (spec.root?.readonly) await ops.readonlyPath('/');
  // An empty name leaves the one the uts namespace has (as runc does); without a uts namespace it would clear the host's.
  if (spec.hostname) await ops.sethostname(spec.hostname);
  if (spec.domainname) await ops.setdomainname(spec.domainname);
  for (const [key, value] of Object.entries(linux.sysctl ?? {})) await ops.writeFile(sysctlPath(key), value, true);
  for (const p of linux.readonlyPaths ?? []) await ops.readonlyPath(p);
  for (const p of linux.maskedPaths ?? []) await ops.maskPath(p);
  // The root's configured propagation, last: an unbindable root would refuse the binds above.
  if (ns.has('mount') && linux.rootfsPropagation) await ops.mount({ target: '/', flags: ROOT_PROPAGATION[linux.rootfsPropagation], inRoot: false });

  // 6. The process: what runs, as whom, with what. Then wait for `start`. (Without a process,
  // which the spec allows at create, the init just holds the namespaces; `start` refuses.)
  if (spec.process) await configureProcess(ops, spec.process, {
    preserveFds: o.preserveFds,
    consoleFd,
    setgroups: host.setgroupsAllowed(pid),
    seccomp: o.seccomp,
    lsm: o.lsm,
    personality: linux.personality ? PERSONALITY_DOMAINS[linux.personality.domain] : undefined,
    grantable: o.grantable,
    seccompListener: listenerFd !== undefined ? { fd: listenerFd, state: host.seccompListenerState(pid) } : undefined,
    log: o.log,
  });
  for (const hook of spec.hooks?.startContainer ?? []) await ops.addHook(hookRequest(hook, host.hookState(pid, 'created')));
  await ops.finish();
  return pid;
}

/** The process settings applied from outside, to the process before it runs anything configured (create and exec). */
export function applyFromOutside(host: HostSide, pid: number, p: Process): void {
  if (p.oomScoreAdj !== undefined) host.setOomScoreAdj(pid, p.oomScoreAdj);
  if (p.ioPriority) host.setIoPriority(pid, ioprioValue(p.ioPriority.class, p.ioPriority.priority));
  if (p.scheduler) host.setScheduler(pid, schedAttr(p.scheduler));
}

function mapsRoot(uids: IdMapping[] = [], gids: IdMapping[] = []): boolean {
  const has0 = (ms: IdMapping[]) => ms.some((m) => m.containerID === 0 && m.size > 0);
  return has0(uids) && has0(gids);
}

function idMap(mappings: IdMapping[] = []): string {
  return mappings.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

function timeOffsets(offsets: Record<string, { secs?: number; nanosecs?: number }> = {}): string {
  return Object.entries(offsets).map(([clock, o]) => `${clock} ${o.secs ?? 0} ${o.nanosecs ?? 0}\n`).join('');
}

const ROOT_PROPAGATION: Record<string, number> = {
  shared: MS.SHARED, rshared: MS.SHARED | MS.REC, slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC,
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC, unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};

/**
 * Cut the container's mount namespace off from the host's (rslave unless
 * rootfsPropagation says otherwise), then bind the rootfs onto itself: it
 * must be a mount point for pivot_root, and the root every in-root path is
 * resolved from.
 */
async function prepareRootfs(ops: InitOps, host: HostSide, o: SetupOptions, ns: NamespacePlan): Promise<void> {
  if (!ns.has('mount')) {
    // The container shares tsrunc's mount namespace (the spec allows it): its mounts are made
    // there, under the rootfs, and `delete` unmounts them. No propagation change, no pivot_root.
    if (o.spec.root?.readonly) throw new TsruncError('root.readonly: a read-only root needs a mount namespace (add {"type": "mount"} to linux.namespaces)');
    await ops.setRoot(o.rootfs);
    return;
  }
  // Cut off from the host first: everything rslave, unless the rootfs is to be shared (then rshared,
  // so the peers the host has stay peers). The configured propagation itself is applied to the
  // new root after pivot_root, where it cannot touch the host and an "unbindable" cannot break
  // the rootfs bind below.
  const propagation = o.spec.linux?.rootfsPropagation;
  const shared = propagation === 'shared' || propagation === 'rshared';
  await ops.mount({ target: '/', flags: (shared ? MS.SHARED : MS.SLAVE) | MS.REC, inRoot: false });
  // pivot_root refuses a new root whose parent mount is shared. The bind below stacks on the
  // mount holding the rootfs (its own mount, when it is a mount point): that one is made private.
  await ops.mount({ target: host.mountPointOf(o.rootfs), flags: MS.PRIVATE, inRoot: false });
  await ops.mount({ source: o.rootfs, target: o.rootfs, flags: MS.BIND | MS.REC, inRoot: false });
  await ops.setRoot(o.rootfs);
}

/** The flags of a read-only, non-bind /dev mount (to apply after it is populated); undefined otherwise. */
function readonlyDev(mounts: Mount[] = []): number | undefined {
  const m = mounts.filter((x) => cleanPath(x.destination) === '/dev').pop();
  if (!m) return undefined;
  const opts = parseMountOptions(m);
  return !opts.bind && opts.flags & MS.RDONLY ? opts.flags & ~(MS.REMOUNT | MS.BIND | MS.REC) : undefined;
}

/**
 * --no-pivot keeps the host's mounts in the container's mount namespace,
 * merely out of sight of its chroot. A fully visible host procfs or sysfs
 * there would let a process that makes a nested user and pid namespace
 * mount a fresh proc (the kernel checks the namespace, not the root): each
 * one outside the rootfs is unmounted, or covered by an empty tmpfs where
 * that is refused, as runc's msMoveRoot does.
 */
async function hideHostProcSysfs(ops: InitOps, host: HostSide, pid: number, rootfs: string): Promise<void> {
  for (const mp of host.procSysfsMountsOf(pid).filter((p) => !isAtOrBelow(p, rootfs))) {
    try {
      // Slave first: the unmount must not propagate to the host.
      await ops.mount({ target: mp, flags: MS.SLAVE | MS.REC, inRoot: false });
      await ops.umount(mp, MNT_DETACH, false);
    } catch (err) {
      const errno = (err as { errno?: number }).errno;
      if (errno === ENOENT) continue; // under one already detached
      if (errno !== EINVAL && errno !== EPERM) throw err;
      await ops.mount({ source: 'tmpfs', target: mp, fstype: 'tmpfs', flags: 0, inRoot: false });
    }
  }
}

const MNT_DETACH = 2, EPERM = 1, ENOENT = 2, EINVAL = 22;

function needsDevSetup(mounts: Mount[] = []): boolean {
  return !mounts.some((m) => cleanPath(m.destination) === '/dev' && parseMountOptions(m).bind);
}

/**
 * The id-mapping of a mount: its own uidMappings/gidMappings, or with
 * "idmap"/"ridmap" alone the container's user namespace mappings.
 * Recursive with "ridmap", or with "rbind" when no option says otherwise.
 */
function mountIdmap(m: Mount, opts: MountOptions, linux: NonNullable<Spec['linux']>): IdmapRequest | undefined {
  if (!opts.idmap && !m.uidMappings && !m.gidMappings) return undefined;
  const uids = m.uidMappings ?? linux.uidMappings, gids = m.gidMappings ?? linux.gidMappings;
  if (!uids?.length || !gids?.length) throw new TsruncError(`mounts ${cleanPath(m.destination)}: an id-mapped mount needs uidMappings and gidMappings (its own, or the user namespace's)`);
  return { uidMap: idMap(uids), gidMap: idMap(gids), recursive: opts.idmap ? opts.idmap === 'ridmap' : opts.recursive };
}

/** A bind mount's host source (relative ones are in the bundle), checked to exist. */
function bindSource(host: HostSide, o: SetupOptions, m: Mount): { source: string; kind: 'dir' | 'file' } {
  const source = m.source && !isAbsolute(m.source) ? join(o.bundle, m.source) : m.source ?? '';
  const kind = host.statSource(source);
  if (kind === 'missing') throw new TsruncError(`mounts ${cleanPath(m.destination)}: bind source ${JSON.stringify(source)} does not exist`);
  return { source, kind };
}

/** tree: the bind source as a detached mount (user namespaces), else it is bound by path. */
async function mountEntry(ops: InitOps, host: HostSide, o: SetupOptions, m: Mount, ns: NamespacePlan, tree?: number): Promise<void> {
  const dest = cleanPath(m.destination);
  const opts = parseMountOptions(m);
  if (opts.tmpcopyup && m.type !== 'tmpfs') throw new TsruncError(`mounts ${dest}: option "tmpcopyup" is only for tmpfs mounts`);
  if (m.type === 'cgroup' || m.type === 'cgroup2') {
    await mountCgroups(ops, o, dest, opts.flags, ns);
  } else if (opts.bind) {
    const { source, kind } = bindSource(host, o, m);
    if (kind === 'dir') await ops.mkdirAll(dest, 0o755, true);
    else await ops.mkfile(dest, 0o644, true);
    if (tree !== undefined) await ops.moveMount(tree, dest);
    else await ops.mount({ source, target: dest, flags: MS.BIND | (opts.recursive ? MS.REC : 0), inRoot: true });
    // A bind mount takes its flags only from a remount of the new mount.
    const remountFlags = opts.flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
    if (remountFlags) await ops.mount({ target: dest, flags: MS.BIND | MS.REMOUNT | (opts.recursive ? MS.REC : 0) | remountFlags, inRoot: true });
  } else {
    await ops.mkdirAll(dest, 0o755, true);
    // linux.mountLabel labels the filesystems tsrunc creates (not proc and sysfs, which label themselves).
    const label = o.spec.linux?.mountLabel;
    const data = label && m.type !== 'proc' && m.type !== 'sysfs' ? withMountLabel(opts.data, label) : opts.data;
    // /dev is populated after it is mounted: read-only only once that is done (see readonlyDev).
    const flags = dest === '/dev' ? opts.flags & ~MS.RDONLY : opts.flags;
    await ops.mount({ source: m.source ?? m.type ?? 'none', target: dest, fstype: m.type, flags, data, inRoot: true, ...(opts.tmpcopyup ? { copyUp: true } : {}) });
  }
  // Recursive attributes (rro, rnosuid, ...): on the mount and every mount below it, before propagation.
  if (opts.recursiveAttrs) await ops.mountSetattr(dest, opts.recursiveAttrs.set, opts.recursiveAttrs.clear);
  for (const p of opts.propagation) await ops.mount({ target: dest, flags: p, inRoot: true });
}

/**
 * A "cgroup" mount: with a cgroup namespace, fresh cgroup filesystems that
 * show the container's cgroup as their root; without one, bind mounts of the
 * container's own cgroup directories. On v1/hybrid hosts, a tmpfs holding one
 * directory per hierarchy, as on the host.
 */
async function mountCgroups(ops: InitOps, o: SetupOptions, dest: string, flags: number, ns: NamespacePlan): Promise<void> {
  const record = o.cgroup ?? o.callerCgroup;
  const hierarchies = o.cgroupHierarchies ?? [];
  if (!record) throw new TsruncError(`mounts ${dest}: a cgroup mount needs the container's cgroup`);
  const own = flags & (MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RDONLY | MS.RELATIME);
  // cgroup v1 cannot be mounted from a user namespace (only cgroup2 can): there, binds of the container's own.
  const userns = ns.has('user') || !!o.rootless;
  const mountOne = async (key: string, target: string, version: 1 | 2, controllers: string[]) => {
    await ops.mkdirAll(target, 0o755, true);
    if (ns.has('cgroup') && !(userns && version === 1)) {
      await ops.mount({ source: 'cgroup', target, fstype: version === 2 ? 'cgroup2' : 'cgroup', flags: own, data: controllers.join(','), inRoot: true });
    } else {
      await ops.mount({ source: record.dirs[key], target, flags: MS.BIND | MS.REC, inRoot: true });
      await ops.mount({ target, flags: MS.BIND | MS.REMOUNT | own, inRoot: true });
    }
  };
  if (record.mode === 'unified') {
    await mountOne('', dest, 2, []);
    return;
  }
  await ops.mkdirAll(dest, 0o755, true);
  await ops.mount({ source: 'tmpfs', target: dest, fstype: 'tmpfs', flags: own & ~MS.RDONLY, data: 'mode=755', inRoot: true });
  for (const h of hierarchies) {
    if (!(h.key in record.dirs)) continue;
    const name = basename(h.mountPoint);
    await mountOne(h.key, `${dest}/${name}`, h.version, h.controllers);
    // Co-mounted controllers ("cpu,cpuacct") are reachable under each name, as on the host.
    if (h.controllers.length > 1) for (const c of h.controllers) if (c !== name) await ops.symlink(name, `${dest}/${c}`);
  }
  if (own & MS.RDONLY) await ops.mount({ target: dest, flags: MS.REMOUNT | MS.BIND | own, inRoot: true });
}

/** The default devices, then the config's; a config entry for a default path replaces the default. */
function withDefaults(devices: Device[]): Device[] {
  const configured = new Set(devices.map((d) => cleanPath(d.path)));
  return [...DEFAULT_DEVICES.filter((d) => !configured.has(d.path)), ...devices];
}

async function createDevices(ops: InitOps, devices: Device[], userns: boolean): Promise<void> {
  const seen = new Set<string>();
  for (const d of devices) {
    const path = cleanPath(d.path);
    if (seen.has(path)) continue;
    seen.add(path);
    // In a user namespace mknod is refused: bind the host's node instead (only for the standard devices and real nodes).
    if (userns && d.type !== 'p') {
      await ops.bindDevice(path, path);
      continue;
    }
    const type = d.type === 'b' ? S_IFBLK : d.type === 'p' ? S_IFIFO : S_IFCHR;
    const mode = type | ((d.fileMode ?? 0o666) & 0o7777);
    await ops.mknod(path, mode, d.type === 'p' ? 0n : makedev(d.major ?? 0, d.minor ?? 0), d.uid ?? 0, d.gid ?? 0);
  }
  for (const [target, link] of DEV_SYMLINKS) await ops.symlink(target, link);
  await ops.symlink('pts/ptmx', '/dev/ptmx');
}

export interface ProcessOptions {
  preserveFds: number;
  consoleFd?: number;
  /** False inside a user namespace whose setgroups is denied. */
  setgroups: boolean;
  seccomp?: CompiledFilter;
  lsm?: LsmSupport;
  /** linux.personality's domain as personality(2) takes it. */
  personality?: number;
  /** The bounding set of the process that becomes the container's: capabilities outside it cannot be granted. */
  grantable?: bigint;
  seccompListener?: { fd: number; state: string };
  log: Logger;
}

/** The process part, shared by create and exec: what runs, as whom, with which limits and privileges. */
export async function configureProcess(ops: InitOps, p: Process, o: ProcessOptions): Promise<void> {
  await ops.setExec(p.args ?? [], p.env ?? [], p.cwd);
  if (!o.setgroups && p.user.additionalGids?.length) {
    throw new TsruncError('process.user.additionalGids: setgroups(2) is denied in this user namespace (only your own gid is mapped); map a range of /etc/subgid in linux.gidMappings to use additional groups');
  }
  await ops.setUser({ uid: p.user.uid, gid: p.user.gid, umask: p.user.umask, additionalGids: p.user.additionalGids ?? [], setgroups: o.setgroups });
  if (p.capabilities) {
    const { masks, unsupported, withheld } = capabilityMasks(p.capabilities, undefined, o.grantable);
    if (unsupported.length) o.log.warn(`capabilities not supported by this kernel, dropped: ${unsupported.join(', ')}`);
    if (withheld.length) o.log.warn(`capabilities this host withholds (not in the bounding set tsrunc runs with), dropped: ${withheld.join(', ')}`);
    // The kernel raises an ambient capability only if it is inheritable and permitted too; runc
    // silently skips the others (`runc spec` itself asks for ambient ones without inheritable).
    const [, , inheritable, permitted, ambient] = masks;
    const raisable = ambient & inheritable & permitted;
    if (raisable !== ambient) o.log.debug(`ambient capabilities not also inheritable and permitted are not raised (mask 0x${(ambient & ~raisable).toString(16)})`);
    masks[4] = raisable;
    await ops.setCaps(masks);
  }
  for (const r of p.rlimits ?? []) await ops.setRlimit(rlimitNumber(r.type)!, rlim(r.soft), rlim(r.hard));
  if (p.noNewPrivileges) await ops.setNoNewPrivs();
  if (o.preserveFds) await ops.setPreserveFds(o.preserveFds);
  if (p.terminal) {
    if (o.consoleFd === undefined) throw new TsruncError('process.terminal is true but there is no console socket to send the pty to');
    await ops.setConsole(o.consoleFd, p.consoleSize?.height ?? 0, p.consoleSize?.width ?? 0);
  }
  if (p.apparmorProfile) {
    if (!o.lsm?.apparmor) throw new TsruncError('process.apparmorProfile: AppArmor is not enabled on this host');
    await ops.setExecLabel(apparmorExecFile(), `exec ${p.apparmorProfile}`);
  } else if (p.selinuxLabel) {
    if (!o.lsm?.selinux) throw new TsruncError('process.selinuxLabel: SELinux is not enabled on this host');
    await ops.setExecLabel('/proc/thread-self/attr/exec', p.selinuxLabel);
  }
  if (o.personality !== undefined) await ops.setPersonality(o.personality);
  if (o.seccomp) {
    await ops.setSeccomp(o.seccomp.program, o.seccomp.flags);
    if (o.seccomp.notify) {
      if (!o.seccompListener) throw new TsruncError('linux.seccomp: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath');
      await ops.setSeccompListener(o.seccompListener.fd, o.seccompListener.state);
    }
  }
}

/** A limit as rlim_t. RLIM_INFINITY (2^64-1) in config.json rounds to 2^64 as a JS number, which would wrap to 0. */
function rlim(n: number): bigint {
  return n >= 2 ** 64 ? 0xffffffffffffffffn : BigInt(n);
}

function hookRequest(hook: Hook, state: string): HookRequest {
  return { path: hook.path, args: hook.args ?? [], env: hook.env ?? [], timeout: hook.timeout ?? 0, stdin: state };
}
