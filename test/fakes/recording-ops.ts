/**
 * Recording fakes of InitOps (what tsrunc asks tsrunc-init to do) and
 * HostSide (what tsrunc does itself), for testing container setup without a
 * container. Both append to one shared log, so tests can check the order of
 * requests across the two, one readable line per call:
 *
 *   clone NEWNS|NEWPID into /sys/fs/cgroup/ctr
 *   mount <source|-> <target> <fstype|-> <MS flags|0> <data|-> [@root] [@srcroot]
 *   mkdirAll /proc 0755 @root
 *   mknod /dev/null c 1:3 0666 0:0
 *   host.onPid 4242
 *
 * Flags are printed by name, lowest bit first; "@root" marks a path resolved
 * inside the container root (OPT_IN_ROOT). Every call is recorded when it is
 * made; a call listed in `failures` then rejects, as tsrunc-init's error
 * reply would.
 */
import type { HookRequest, IdmapRequest, InitOps, MountRequest, UserRequest } from '../../src/init/ops';
import type { HostSide } from '../../src/container/setup';
import { CLONE, MS, S_IFBLK, S_IFCHR, S_IFIFO } from '../../src/linux/constants';
import { RLIMITS } from '../../src/linux/rlimits';

function flagNames(table: Record<string, number>, flags: number): string {
  if (flags === 0) return '0';
  const names: string[] = [];
  let rest = flags;
  for (const [name, bit] of Object.entries(table).sort((a, b) => a[1] - b[1])) {
    if (flags & bit) {
      names.push(name);
      rest &= ~bit;
    }
  }
  if (rest) names.push(`0x${rest.toString(16)}`);
  return names.join('|');
}

export const msNames = (flags: number) => flagNames(MS, flags);
export const cloneNames = (flags: number) => flagNames(CLONE, flags);

const octal = (mode: number) => `0${mode.toString(8)}`;
const where = (inRoot: boolean) => (inRoot ? ' @root' : '');

/** glibc's major()/minor(), the inverse of makedev(). */
function majorMinor(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

function nodeType(mode: number): string {
  const type = mode & 0o170000;
  return type === S_IFCHR ? 'c' : type === S_IFBLK ? 'b' : type === S_IFIFO ? 'p' : `type0${type.toString(8)}`;
}

function hookLine(h: HookRequest): string {
  return `${h.path} args=${JSON.stringify(h.args)} env=${JSON.stringify(h.env)} timeout=${h.timeout} stdin=${h.stdin}`;
}

export class RecordingOps implements InitOps {
  /** The pid clone() returns. */
  clonePid = 4242;
  /** The fd the next connectSocket() returns. */
  nextSocketFd = 10;
  /** Calls that fail: a method name (e.g. "pivotRoot") -> the error it rejects with. */
  failures: Record<string, Error> = {};

  constructor(readonly log: string[] = []) {}

  private rec(method: string, line: string): void {
    this.log.push(line);
    const err = this.failures[method];
    if (err) throw err;
  }

  async joinNamespaces(namespaces: { flag: number; path: string }[]): Promise<void> {
    this.rec('joinNamespaces', `joinNamespaces ${namespaces.map((n) => `${cloneNames(n.flag)}=${n.path}`).join(' ')}`);
  }
  async unshare(flags: number): Promise<void> {
    this.rec('unshare', `unshare ${cloneNames(flags)}`);
  }
  async setCloneCgroup(dir: string): Promise<void> {
    this.rec('setCloneCgroup', `setCloneCgroup ${dir}`);
  }
  async clone(flags: number): Promise<number> {
    this.rec('clone', `clone ${cloneNames(flags)}`);
    return this.clonePid;
  }
  async writeFile(path: string, data: string, inRoot: boolean): Promise<void> {
    this.rec('writeFile', `writeFile ${path} ${JSON.stringify(data)}${where(inRoot)}`);
  }
  async mount(m: MountRequest): Promise<void> {
    this.rec('mount', `mount ${m.source ?? '-'} ${m.target} ${m.fstype ?? '-'} ${msNames(m.flags)} ${m.data || '-'}${where(m.inRoot)}${m.sourceInRoot ? ' @srcroot' : ''}${m.copyUp ? ' copyup' : ''}`);
  }
  async umount(target: string, flags: number, inRoot: boolean): Promise<void> {
    this.rec('umount', `umount ${target} ${flags}${where(inRoot)}`);
  }
  async mkdirAll(path: string, mode: number, inRoot: boolean): Promise<void> {
    this.rec('mkdirAll', `mkdirAll ${path} ${octal(mode)}${where(inRoot)}`);
  }
  async mkfile(path: string, mode: number, inRoot: boolean): Promise<void> {
    this.rec('mkfile', `mkfile ${path} ${octal(mode)}${where(inRoot)}`);
  }
  async mknod(path: string, mode: number, dev: bigint, uid: number, gid: number): Promise<void> {
    this.rec('mknod', `mknod ${path} ${nodeType(mode)} ${majorMinor(dev)} ${octal(mode & 0o7777)} ${uid}:${gid}`);
  }
  async bindDevice(hostPath: string, target: string): Promise<void> {
    this.rec('bindDevice', `bindDevice ${hostPath} ${target}`);
  }
  async symlink(target: string, link: string): Promise<void> {
    this.rec('symlink', `symlink ${link} -> ${target}`);
  }
  /** The fd the next openTree() returns. */
  nextTreeFd = 20;
  async openTree(path: string, recursive: boolean, idmap?: IdmapRequest): Promise<number> {
    const id = idmap ? ` ${idmap.recursive ? 'ridmap' : 'idmap'} uid=${JSON.stringify(idmap.uidMap)} gid=${JSON.stringify(idmap.gidMap)}` : '';
    this.rec('openTree', `openTree ${path}${recursive ? ' recursive' : ''}${id}`);
    return this.nextTreeFd++;
  }
  async mountSetattr(target: string, set: number, clear: number): Promise<void> {
    this.rec('mountSetattr', `mountSetattr ${target} set=0x${set.toString(16)} clear=0x${clear.toString(16)} @root`);
  }
  async moveMount(fd: number, target: string): Promise<void> {
    this.rec('moveMount', `moveMount ${fd} ${target} @root`);
  }
  async loopbackUp(): Promise<void> {
    this.rec('loopbackUp', 'loopbackUp');
  }
  async setRoot(path: string): Promise<void> {
    this.rec('setRoot', `setRoot ${path}`);
  }
  async pivotRoot(path: string): Promise<void> {
    this.rec('pivotRoot', `pivotRoot ${path}`);
  }
  async chroot(path: string, move: boolean): Promise<void> {
    this.rec('chroot', `chroot ${path}${move ? ' move' : ''}`);
  }
  async connectSocket(path: string): Promise<number> {
    const fd = this.nextSocketFd++;
    this.rec('connectSocket', `connectSocket ${path} -> fd ${fd}`);
    return fd;
  }
  async becomeRoot(): Promise<void> {
    this.rec('becomeRoot', 'becomeRoot');
  }
  async setDumpable(on: boolean): Promise<void> {
    this.rec('setDumpable', `setDumpable ${on}`);
  }
  async sethostname(name: string): Promise<void> {
    this.rec('sethostname', `sethostname ${JSON.stringify(name)}`);
  }
  async setdomainname(name: string): Promise<void> {
    this.rec('setdomainname', `setdomainname ${JSON.stringify(name)}`);
  }
  async maskPath(path: string): Promise<void> {
    this.rec('maskPath', `maskPath ${path}`);
  }
  async readonlyPath(path: string): Promise<void> {
    this.rec('readonlyPath', `readonlyPath ${path}`);
  }
  async setExec(args: string[], env: string[], cwd: string): Promise<void> {
    this.rec('setExec', `setExec ${JSON.stringify(args)} env=${JSON.stringify(env)} cwd=${cwd}`);
  }
  async setUser(u: UserRequest): Promise<void> {
    const umask = u.umask === undefined ? '-' : octal(u.umask);
    this.rec('setUser', `setUser ${u.uid}:${u.gid} umask=${umask} groups=[${u.additionalGids.join(',')}] setgroups=${u.setgroups}`);
  }
  async setCaps(masks: bigint[]): Promise<void> {
    this.rec('setCaps', `setCaps ${masks.map((m) => `0x${m.toString(16)}`).join(' ')}`);
  }
  async setRlimit(resource: number, soft: bigint, hard: bigint): Promise<void> {
    this.rec('setRlimit', `setRlimit ${RLIMITS[resource] ?? resource} ${soft} ${hard}`);
  }
  async joinSessionKeyring(name: string, addPerm: number): Promise<void> {
    this.rec('joinSessionKeyring', `joinSessionKeyring ${name} +0x${addPerm.toString(16)}`);
  }
  async setNoNewPrivs(): Promise<void> {
    this.rec('setNoNewPrivs', 'setNoNewPrivs');
  }
  async setSeccomp(program: Buffer, flags: number): Promise<void> {
    this.rec('setSeccomp', `setSeccomp ${program.length} bytes flags=${flags}`);
  }
  async setExecLabel(file: string, value: string): Promise<void> {
    this.rec('setExecLabel', `setExecLabel ${file} ${JSON.stringify(value)}`);
  }
  async setPersonality(persona: number): Promise<void> {
    this.rec('setPersonality', `setPersonality 0x${persona.toString(16)}`);
  }
  async setAffinity(mask: Buffer): Promise<void> {
    const cpus = [...Array(mask.length * 8).keys()].filter((c) => mask[c >> 3] & (1 << (c & 7)));
    this.rec('setAffinity', `setAffinity ${cpus.join(',')}`);
  }
  async setSeccompListener(fd: number, state: string): Promise<void> {
    this.rec('setSeccompListener', `setSeccompListener fd=${fd} state=${state}`);
  }
  async setStartFifo(dir: string): Promise<void> {
    this.rec('setStartFifo', `setStartFifo ${dir}`);
  }
  async setPreserveFds(count: number): Promise<void> {
    this.rec('setPreserveFds', `setPreserveFds ${count}`);
  }
  async setConsole(fd: number, rows: number, cols: number): Promise<void> {
    this.rec('setConsole', `setConsole fd=${fd} ${rows}x${cols}`);
  }
  async addHook(hook: HookRequest): Promise<void> {
    this.rec('addHook', `addHook ${hookLine(hook)}`);
  }
  async runHook(hook: HookRequest): Promise<void> {
    this.rec('runHook', `runHook ${hookLine(hook)}`);
  }
  async finish(): Promise<void> {
    this.rec('finish', 'finish');
  }
}

export class RecordingHost implements HostSide {
  /** Host paths bind mounts take as source, and their kind; anything else is "missing". */
  sources: Record<string, 'dir' | 'file'> = {};
  /** path -> the mount point holding it; anything else is on "/". */
  mountPoints: Record<string, string> = {};
  /** Calls that only ask something (statSource, hookState, mountPointOf), kept apart from the log. */
  readonly queries: string[] = [];

  constructor(readonly log: string[] = []) {}

  /** The setgroups file of the container's user namespace says "deny". */
  setgroupsDenied = false;

  setgroupsAllowed(pid: number): boolean {
    this.queries.push(`setgroupsAllowed ${pid}`);
    return !this.setgroupsDenied;
  }

  statSource(path: string): 'dir' | 'file' | 'missing' {
    this.queries.push(`statSource ${path}`);
    return this.sources[path] ?? 'missing';
  }
  writeIdMaps(pid: number, uidMap: string, gidMap: string): void {
    this.log.push(`host.writeIdMaps ${pid} uid=${JSON.stringify(uidMap)} gid=${JSON.stringify(gidMap)}`);
  }
  joinCgroup(pid: number): void {
    this.log.push(`host.joinCgroup ${pid}`);
  }
  setOomScoreAdj(pid: number, score: number): void {
    this.log.push(`host.setOomScoreAdj ${pid} ${score}`);
  }
  setIoPriority(pid: number, ioprio: number): void {
    this.log.push(`host.setIoPriority ${pid} 0x${ioprio.toString(16)}`);
  }
  setScheduler(pid: number, attr: Buffer): void {
    this.log.push(`host.setScheduler ${pid} policy=${attr.readUInt32LE(4)} nice=${attr.readInt32LE(16)} priority=${attr.readUInt32LE(20)}`);
  }
  onPid(pid: number): void {
    this.log.push(`host.onPid ${pid}`);
  }
  async runRuntimeHooks(kind: 'prestart' | 'createRuntime', pid: number): Promise<void> {
    this.log.push(`host.runRuntimeHooks ${kind} ${pid}`);
  }
  hookState(pid: number, status: 'creating' | 'created'): string {
    this.queries.push(`hookState ${pid} ${status}`);
    return `state(${pid},${status})`;
  }
  seccompListenerState(pid: number): string {
    this.queries.push(`seccompListenerState ${pid}`);
    return `listener-state(${pid})`;
  }
  mountPointOf(path: string): string {
    this.queries.push(`mountPointOf ${path}`);
    return this.mountPoints[path] ?? '/';
  }

  /** What procSysfsMountsOf returns. */
  procSysfs: string[] = [];
  procSysfsMountsOf(pid: number): string[] {
    this.queries.push(`procSysfsMountsOf ${pid}`);
    return this.procSysfs;
  }
}

/** A fresh pair sharing one log. */
export function recorders(): { log: string[]; ops: RecordingOps; host: RecordingHost } {
  const log: string[] = [];
  return { log, ops: new RecordingOps(log), host: new RecordingHost(log) };
}
