import { existsSync, readFileSync } from 'node:fs';
import { DBusConnection, DBusConnectionError, DBusError, socketPathsOf } from '../dbus/connection';
import { variant, type Message, type Variant } from '../dbus/marshal';
import type { Device, Resources } from '../spec/types';
import { TsruncError } from '../sys/errors';
import { createCgroup, joinCgroup, managerFor } from './manager';
import { needsVersion, resourceProperties, scopeProperties, type PropertyContext, type UnitProperty } from './systemd';
import type { CgroupRecord } from './types';

/**
 * The systemd cgroup driver's D-Bus half: a transient scope per container
 * (StartTransientUnit with the container's pid, waited for through
 * JobRemoved), its properties changed on update (SetUnitProperties) and the
 * unit stopped on delete (StopUnit). What systemd has no property for is
 * written to the scope's files by the v1/v2 managers, as runc does.
 * Loaded only for containers that use the driver.
 */

const SYSTEMD = 'org.freedesktop.systemd1';
const OBJECT = '/org/freedesktop/systemd1';
const MANAGER = 'org.freedesktop.systemd1.Manager';
const PROPERTIES = 'org.freedesktop.DBus.Properties';
export const NOT_RUNNING = 'systemd is not running: cannot use --systemd-cgroup';
/** runc's wait for a job (and so ours). */
const JOB_TIMEOUT_MS = 30_000;

export class Systemd {
  private readonly removed = new Map<string, string>();
  private readonly waiters = new Map<string, (result: string) => void>();
  private watching?: Promise<void>;
  private versionNumber?: number;

  private constructor(private readonly conn: DBusConnection, private readonly viaBus: boolean) {}

  /**
   * The system bus (DBUS_SYSTEM_BUS_ADDRESS or its standard socket), as
   * runc's go-systemd does; as root, systemd's private socket when there is
   * no bus daemon. Anything else is one clear line.
   */
  static async connect(env: NodeJS.ProcessEnv = process.env): Promise<Systemd> {
    const reasons: string[] = [];
    for (const path of socketPathsOf(env.DBUS_SYSTEM_BUS_ADDRESS || 'unix:path=/run/dbus/system_bus_socket')) {
      try {
        return new Systemd(await DBusConnection.open(path, { bus: true }), true);
      } catch (err) {
        reasons.push((err as Error).message);
      }
    }
    if (process.geteuid?.() === 0) {
      try {
        return new Systemd(await DBusConnection.open('/run/systemd/private', { bus: false }), false);
      } catch (err) {
        reasons.push((err as Error).message);
      }
    }
    throw new TsruncError(`${NOT_RUNNING} (${reasons.join('; ') || 'no unix socket in DBUS_SYSTEM_BUS_ADDRESS'})`);
  }

  close(): void {
    this.conn.close();
  }

  private async call(member: string, signature: string, body: unknown[], path = OBJECT, iface = MANAGER): Promise<unknown[]> {
    try {
      return await this.conn.call({ destination: this.viaBus ? SYSTEMD : undefined, path, interface: iface, member, signature, body });
    } catch (err) {
      if (err instanceof DBusError && (err.type === 'org.freedesktop.DBus.Error.ServiceUnknown' || err.type === 'org.freedesktop.DBus.Error.NameHasNoOwner')) {
        throw new TsruncError(`${NOT_RUNNING} (${err.message})`);
      }
      if (err instanceof DBusConnectionError) throw new TsruncError(`systemd: ${err.message}`);
      throw err;
    }
  }

  /** systemd's version number ("252.22-1~deb12u1" -> 252), asked once. */
  async version(): Promise<number> {
    if (this.versionNumber === undefined) {
      const [v] = await this.call('Get', 'ss', [MANAGER, 'Version'], OBJECT, PROPERTIES);
      const m = /v?(\d+)/.exec(String((v as Variant).value));
      this.versionNumber = m ? Number(m[1]) : 0;
    }
    return this.versionNumber;
  }

  /** Starts a transient unit and waits for its job; false if the unit already existed (runc then uses it as it is). */
  async startTransientUnit(name: string, props: UnitProperty[]): Promise<boolean> {
    await this.watchJobs();
    let job: string;
    try {
      [job] = (await this.call('StartTransientUnit', 'ssa(sv)a(sa(sv))', [name, 'replace', toDBus(props), []])) as [string];
    } catch (err) {
      if (err instanceof DBusError && err.type === 'org.freedesktop.systemd1.UnitExists') return false;
      if (err instanceof DBusError) throw new TsruncError(`systemd refused to start ${name}: ${err.message}`);
      throw err;
    }
    const result = await this.waitJob(job, name, 'active');
    if (result !== 'done') {
      await this.call('ResetFailedUnit', 's', [name]).catch(() => undefined);
      throw new TsruncError(`systemd could not start ${name}: job ${result}`);
    }
    return true;
  }

  /** Stops a unit and waits; a unit that is not there is already stopped. Returns the job's result. */
  async stopUnit(name: string): Promise<string> {
    await this.watchJobs();
    let job: string;
    try {
      [job] = (await this.call('StopUnit', 'ss', [name, 'replace'])) as [string];
    } catch (err) {
      if (err instanceof DBusError && err.type === 'org.freedesktop.systemd1.NoSuchUnit') return 'done';
      if (err instanceof DBusError) throw new TsruncError(`systemd refused to stop ${name}: ${err.message}`);
      throw err;
    }
    const result = await this.waitJob(job, name, 'inactive');
    // A scope whose processes were all gone may end "failed": forget it, so the name can be used again.
    if (result !== 'done') await this.call('ResetFailedUnit', 's', [name]).catch(() => undefined);
    return result;
  }

  async setUnitProperties(name: string, props: UnitProperty[]): Promise<void> {
    if (!props.length) return;
    try {
      await this.call('SetUnitProperties', 'sba(sv)', [name, true, toDBus(props)]);
    } catch (err) {
      if (err instanceof DBusError) throw new TsruncError(`systemd refused to change ${name}: ${err.message}`);
      throw err;
    }
  }

  async activeState(name: string): Promise<string> {
    try {
      const [path] = (await this.call('GetUnit', 's', [name])) as [string];
      const [v] = await this.call('Get', 'ss', ['org.freedesktop.systemd1.Unit', 'ActiveState'], path, PROPERTIES);
      return String((v as Variant).value);
    } catch (err) {
      if (err instanceof DBusError && err.type === 'org.freedesktop.systemd1.NoSuchUnit') return 'inactive';
      throw err;
    }
  }

  /**
   * JobRemoved signals, collected from before the first job is queued so
   * none is missed. systemd sends a job's signals to the client that queued
   * it; on the bus, the daemon needs a match rule to route them to us.
   */
  private watchJobs(): Promise<void> {
    this.watching ??= (async () => {
      this.conn.onSignal((m: Message) => {
        if (m.member !== 'JobRemoved' || m.interface !== MANAGER) return;
        const [, job, , result] = m.body as [number, string, string, string];
        this.removed.set(job, result);
        this.waiters.get(job)?.(result);
      });
      if (this.viaBus) {
        await this.conn.call({
          destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'AddMatch', signature: 's',
          body: [`type='signal',sender='${SYSTEMD}',path='${OBJECT}',interface='${MANAGER}',member='JobRemoved'`],
        });
      }
    })();
    return this.watching;
  }

  /**
   * The job's result ("done", "failed", "canceled", "timeout"...). Should
   * the signal not come, the job is looked at once a second: gone without a
   * signal, the unit's state tells (want: the state the job leads to).
   */
  private waitJob(job: string, unit: string, want: 'active' | 'inactive'): Promise<string> {
    const known = this.removed.get(job);
    if (known !== undefined) return Promise.resolve(known);
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | undefined, result?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearInterval(poll);
        this.waiters.delete(job);
        if (err) reject(err);
        else resolve(result!);
      };
      this.waiters.set(job, (r) => finish(undefined, r));
      const timer = setTimeout(() => finish(new TsruncError(`systemd: timed out after ${JOB_TIMEOUT_MS / 1000} s waiting for the job on ${unit}`)), JOB_TIMEOUT_MS);
      const poll = setInterval(() => {
        this.call('Get', 'ss', ['org.freedesktop.systemd1.Job', 'State'], job, PROPERTIES).then(
          () => undefined,
          async (err: unknown) => {
            if (!(err instanceof DBusError) || settled) return;
            await new Promise((r) => setTimeout(r, 100)); // the signal may be on its way
            if (settled) return;
            const state = await this.activeState(unit).catch(() => 'unknown');
            finish(undefined, state === want ? 'done' : `ended with the unit ${state}`);
          },
        );
      }, 1000);
    });
  }
}

function toDBus(props: UnitProperty[]): [string, Variant][] {
  return props.map(([name, sig, value]) => [name, variant(sig, value)]);
}

function propertyContext(record: CgroupRecord, version: number, o: { applyDevices: boolean; devices?: Device[]; warn(m: string): void }): PropertyContext {
  return {
    mode: record.mode, version, applyDevices: o.applyDevices, devices: o.devices, warn: o.warn,
    procDevices: () => readFileSync('/proc/devices', 'utf8'),
    exists: (p) => existsSync(p),
  };
}

export interface StartOptions {
  id: string;
  resources: Resources;
  devices?: Device[];
  warn(msg: string): void;
  /** Saves the container's state: called once the unit may exist, so a later delete knows to stop it. */
  persist(): void;
}

/**
 * Puts the container's first process in a new scope with its limits: the
 * unit with the properties systemd knows, then the rest (and the same
 * values) in the scope's files, as runc does. On v1 hierarchies that
 * systemd leaves alone (cpuset, freezer...) the directories are made and
 * joined here.
 */
export async function startScope(record: CgroupRecord, pid: number, o: StartOptions): Promise<void> {
  const unit = record.systemd!;
  const r = o.resources;
  const sd = await Systemd.connect();
  try {
    const version = needsVersion(r) ? await sd.version() : 0;
    const props = [...scopeProperties(unit, o.id, pid, record.mode), ...resourceProperties(r, propertyContext(record, version, { applyDevices: true, devices: o.devices, warn: o.warn }))];
    unit.started = true;
    o.persist();
    await sd.startTransientUnit(unit.unit, props);
  } finally {
    sd.close();
  }
  if (record.mode === 'unified' && !existsSync(record.dirs[''])) {
    throw new TsruncError(`systemd started ${unit.unit} but its cgroup ${record.dirs['']} does not exist`);
  }
  // The scope's own directories are the container's (removed on delete); the slices are systemd's.
  createCgroup(record);
  for (const dir of Object.values(record.dirs)) if (!record.created.includes(dir)) record.created.push(dir);
  o.persist();
  joinCgroup(record, pid);
  (await managerFor(record)).apply(r, { warn: o.warn, devices: o.devices, applyDevices: true });
}

/** delete: the unit stops (systemd kills what is left in it and removes its cgroup). */
export async function stopScope(record: CgroupRecord, warn: (m: string) => void = () => undefined): Promise<void> {
  const sd = await Systemd.connect();
  try {
    const result = await sd.stopUnit(record.systemd!.unit);
    if (result !== 'done') warn(`stopping ${record.systemd!.unit}: job ${result}`);
  } finally {
    sd.close();
  }
}

/**
 * update: the unit's properties first (runtime, as runc does), then the
 * files. On v1, systemd rewrites the device rules by denying everything
 * first: the container is frozen meanwhile, so it never sees a device
 * vanish (runc's freezeBeforeSet).
 */
export async function updateScope(record: CgroupRecord, r: Resources, o: { applyDevices: boolean; devices?: Device[]; warn(msg: string): void }): Promise<void> {
  const manager = await managerFor(record);
  const sd = await Systemd.connect();
  try {
    const version = needsVersion(r) ? await sd.version() : 0;
    const props = resourceProperties(r, propertyContext(record, version, o));
    const freeze = record.mode !== 'unified' && o.applyDevices && !!record.dirs.freezer && !manager.isFrozen();
    if (freeze) await manager.freeze();
    try {
      await sd.setUnitProperties(record.systemd!.unit, props);
    } finally {
      if (freeze) manager.thaw();
    }
  } finally {
    sd.close();
  }
  manager.apply(r, { warn: o.warn, devices: o.devices, applyDevices: o.applyDevices });
}
