import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DBusConnection, DBusConnectionError, DBusError, socketPathsOf } from '../../src/dbus/connection';
import { variant } from '../../src/dbus/marshal';
import { startTestBus, type TestBus } from '../helpers/dbus-daemon';

const BUS = { destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus' };

describe('socketPathsOf', () => {
  it('reads unix paths and abstract names, in order, skipping other transports', () => {
    expect(socketPathsOf('unix:path=/run/dbus/system_bus_socket')).toEqual(['/run/dbus/system_bus_socket']);
    expect(socketPathsOf('tcp:host=x,port=1;unix:abstract=/tmp/dbus-X,guid=ab;unix:path=/a%20b')).toEqual(['\0/tmp/dbus-X', '/a b']);
    expect(socketPathsOf('unix:tmpdir=/tmp')).toEqual([]);
  });
});

describe('DBusConnection against a real dbus-daemon', () => {
  let bus: TestBus;
  const open: DBusConnection[] = [];
  const connect = async () => {
    const c = await DBusConnection.open(socketPathsOf(bus.address)[0], { bus: true });
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    bus = await startTestBus();
  }, 300_000);
  afterAll(async () => {
    for (const c of open) c.close();
    await bus?.stop();
  });

  it('authenticates, says Hello and gets a unique name', async () => {
    const c = await connect();
    expect(c.uniqueName).toMatch(/^:1\.\d+$/);
    const [names] = await c.call({ ...BUS, member: 'ListNames' });
    expect(names).toContain('org.freedesktop.DBus');
    expect(names).toContain(c.uniqueName);
    const [id] = await c.call({ ...BUS, member: 'GetId' });
    expect(id).toMatch(/^[0-9a-f]{32}$/);
  });

  it('passes arguments and reads typed replies', async () => {
    const c = await connect();
    const [reply] = await c.call({ ...BUS, member: 'RequestName', signature: 'su', body: ['org.tsrunc.Test1', 0] });
    expect(reply).toBe(1); // DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER
    const [owner] = await c.call({ ...BUS, member: 'GetNameOwner', signature: 's', body: ['org.tsrunc.Test1'] });
    expect(owner).toBe(c.uniqueName);
    const [creds] = await c.call({ ...BUS, member: 'GetConnectionCredentials', signature: 's', body: [c.uniqueName] });
    const map = new Map(creds as [string, { signature: string; value: unknown }][]);
    expect(map.get('ProcessID')).toEqual(variant('u', process.pid));
    expect(map.get('UnixUserID')).toEqual(variant('u', process.getuid!()));
    // A property read through the standard Properties interface: a variant of an array of strings.
    const [features] = await c.call({ ...BUS, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: ['org.freedesktop.DBus', 'Features'] });
    expect((features as { signature: string }).signature).toBe('as');
  });

  it('turns an error reply into a DBusError with its name', async () => {
    const c = await connect();
    const err = await c.call({ ...BUS, member: 'GetNameOwner', signature: 's', body: ['org.tsrunc.Nobody'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DBusError);
    expect((err as DBusError).type).toBe('org.freedesktop.DBus.Error.NameHasNoOwner');
    const bad = await c.call({ ...BUS, member: 'NoSuchMethod' }).catch((e: unknown) => e);
    expect((bad as DBusError).type).toBe('org.freedesktop.DBus.Error.UnknownMethod');
  });

  it('delivers signals it subscribed to, and answers calls to it with an error', async () => {
    const a = await connect();
    const b = await connect();
    await a.call({ ...BUS, member: 'AddMatch', signature: 's', body: ["type='signal',interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='org.tsrunc.Test2'"] });
    const seen = new Promise<unknown[]>((resolve) => {
      const off = a.onSignal((m) => {
        if (m.member === 'NameOwnerChanged') {
          off();
          resolve(m.body);
        }
      });
    });
    await b.call({ ...BUS, member: 'RequestName', signature: 'su', body: ['org.tsrunc.Test2', 0] });
    expect(await seen).toEqual(['org.tsrunc.Test2', '', b.uniqueName]);
    const err = await a.call({ destination: 'org.tsrunc.Test2', path: '/x', interface: 'org.tsrunc.X', member: 'Y' }).catch((e: unknown) => e);
    expect((err as DBusError).type).toBe('org.freedesktop.DBus.Error.UnknownMethod');
  });

  it('matches concurrent calls to their replies', async () => {
    const c = await connect();
    const names = Array.from({ length: 20 }, (_, i) => `org.tsrunc.Many${i}`);
    const replies = await Promise.all(names.map((n) => c.call({ ...BUS, member: 'RequestName', signature: 'su', body: [n, 0] })));
    expect(replies.every(([r]) => r === 1)).toBe(true);
    const owners = await Promise.all(names.map((n) => c.call({ ...BUS, member: 'NameHasOwner', signature: 's', body: [n] })));
    expect(owners.map(([o]) => o)).toEqual(names.map(() => true));
  });

  it('fails pending calls when the connection goes away', async () => {
    const c = await connect();
    const pending = c.call({ ...BUS, member: 'ListNames' });
    c.close();
    await expect(pending).rejects.toBeInstanceOf(DBusConnectionError);
    await expect(c.call({ ...BUS, member: 'ListNames' })).rejects.toBeInstanceOf(DBusConnectionError);
  });

  it('reports a socket nobody listens on as a connection error', async () => {
    await expect(DBusConnection.open(`${bus.socketPath}.none`, { bus: true })).rejects.toThrow(/connect .*ENOENT/);
  });
});
