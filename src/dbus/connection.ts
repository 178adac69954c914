import { createConnection, type Socket } from 'node:net';
import { decodeMessage, encodeMessage, Flags, messageLength, MessageType, type Message } from './marshal';

/**
 * A small D-Bus client over a unix socket: SASL EXTERNAL authentication,
 * Hello on a message bus, method calls matched to their replies by serial,
 * and signals handed to listeners. Only node:net and Buffer, so it runs the
 * same under Node and in the Bun-compiled tsrunc; tsrunc loads it only for
 * --systemd-cgroup.
 */

/** An error reply: the D-Bus error name and its message. */
export class DBusError extends Error {
  override readonly name = 'DBusError';
  constructor(readonly type: string, message: string) {
    super(`${type}: ${message}`);
  }
}

/** The connection could not be made or was lost (as opposed to an error reply). */
export class DBusConnectionError extends Error {
  override readonly name = 'DBusConnectionError';
}

export interface CallOptions {
  destination?: string;
  path: string;
  interface?: string;
  member: string;
  signature?: string;
  body?: unknown[];
  /** Milliseconds before the call fails (default 30 s, libdbus's default). */
  timeoutMs?: number;
}

type SignalListener = (m: Message) => void;

/**
 * The unix socket paths of a D-Bus address ("unix:path=/run/dbus/system_bus_socket",
 * "unix:abstract=..."; several separated by ";", tried in order). Other
 * transports (tcp, launchd...) are not for us: skipped.
 */
export function socketPathsOf(address: string): string[] {
  const out: string[] = [];
  for (const entry of address.split(';')) {
    const colon = entry.indexOf(':');
    if (colon < 0 || entry.slice(0, colon) !== 'unix') continue;
    const kv = new Map(entry.slice(colon + 1).split(',').filter(Boolean).map((p) => {
      const eq = p.indexOf('=');
      return [p.slice(0, eq), unescapeValue(p.slice(eq + 1))] as [string, string];
    }));
    if (kv.has('path')) out.push(kv.get('path')!);
    else if (kv.has('abstract')) out.push(`\0${kv.get('abstract')}`);
  }
  return out;
}

function unescapeValue(v: string): string {
  return v.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

export class DBusConnection {
  private serial = 0;
  private buffered: Buffer = Buffer.alloc(0);
  private readonly pending = new Map<number, { resolve: (m: Message) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private readonly listeners = new Set<SignalListener>();
  private closedError?: Error;
  /** The unique name the bus gave us (undefined on a peer-to-peer connection). */
  uniqueName?: string;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (e) => this.fail(new DBusConnectionError(`D-Bus connection: ${e.message}`)));
    socket.on('close', () => this.fail(new DBusConnectionError('D-Bus connection closed')));
  }

  /**
   * Connects to the socket at path, authenticates as our uid, and (bus=true)
   * says Hello to the bus daemon. bus=false is a peer-to-peer connection
   * (systemd's /run/systemd/private), where there is no daemon to greet.
   */
  static async open(path: string, o: { bus: boolean; timeoutMs?: number } = { bus: true }): Promise<DBusConnection> {
    const socket = await connectUnix(path, o.timeoutMs ?? 10_000);
    try {
      const leftover = await authenticate(socket, o.timeoutMs ?? 10_000);
      const conn = new DBusConnection(socket);
      if (leftover.length) conn.onData(leftover);
      if (o.bus) {
        const [name] = await conn.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'Hello' });
        conn.uniqueName = name as string;
      }
      return conn;
    } catch (err) {
      socket.destroy();
      throw err;
    }
  }

  /** Calls a method and returns the reply's body; an error reply rejects with a DBusError. */
  call(c: CallOptions): Promise<unknown[]> {
    if (this.closedError) return Promise.reject(this.closedError);
    const serial = this.nextSerial();
    const msg = encodeMessage({
      type: MessageType.METHOD_CALL, flags: 0, serial, destination: c.destination, path: c.path,
      interface: c.interface, member: c.member, signature: c.signature, body: c.body,
    });
    return new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(serial);
        reject(new DBusConnectionError(`D-Bus call ${c.interface ?? ''}.${c.member} timed out`));
      }, c.timeoutMs ?? 30_000);
      this.pending.set(serial, { resolve, reject, timer });
      this.socket.write(msg);
    }).then((reply) => {
      if (reply.type === MessageType.ERROR) {
        throw new DBusError(reply.errorName ?? 'org.freedesktop.DBus.Error.Failed', typeof reply.body[0] === 'string' ? reply.body[0] : '');
      }
      return reply.body;
    });
  }

  /** Calls listener with every signal received until the returned function is called. */
  onSignal(listener: SignalListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.fail(new DBusConnectionError('D-Bus connection closed'));
    this.socket.destroy();
  }

  private nextSerial(): number {
    this.serial = this.serial >= 0xffffffff ? 1 : this.serial + 1;
    return this.serial;
  }

  private onData(d: Buffer): void {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, d]) : d;
    for (;;) {
      let len: number | undefined;
      let msg: Message;
      try {
        len = messageLength(this.buffered);
        if (len === undefined || this.buffered.length < len) return;
        msg = decodeMessage(this.buffered.subarray(0, len));
      } catch (err) {
        // A stream we cannot parse cannot be resynchronised: give up the connection.
        this.fail(new DBusConnectionError(`D-Bus: bad message from the bus: ${(err as Error).message}`));
        this.socket.destroy();
        return;
      }
      this.buffered = this.buffered.subarray(len);
      this.dispatch(msg);
    }
  }

  private dispatch(m: Message): void {
    if ((m.type === MessageType.METHOD_RETURN || m.type === MessageType.ERROR) && m.replySerial !== undefined) {
      const p = this.pending.get(m.replySerial);
      if (!p) return;
      this.pending.delete(m.replySerial);
      clearTimeout(p.timer);
      p.resolve(m);
    } else if (m.type === MessageType.SIGNAL) {
      for (const l of [...this.listeners]) l(m);
    } else if (m.type === MessageType.METHOD_CALL && !(m.flags & Flags.NO_REPLY_EXPECTED)) {
      // We serve no objects; a peer calling us (e.g. Peer.Ping) gets an error rather than silence.
      this.socket.write(encodeMessage({
        type: MessageType.ERROR, flags: Flags.NO_REPLY_EXPECTED, serial: this.nextSerial(), replySerial: m.serial,
        destination: m.sender, errorName: 'org.freedesktop.DBus.Error.UnknownMethod', signature: 's', body: ['tsrunc serves no D-Bus objects'],
      }));
    }
  }

  private fail(err: Error): void {
    if (this.closedError) return;
    this.closedError = err;
    for (const [serial, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(serial);
      p.reject(err);
    }
  }
}

function connectUnix(path: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new DBusConnectionError(`connect ${printable(path)}: timed out`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new DBusConnectionError(`connect ${printable(path)}: ${e.code ?? e.message}`));
    });
  });
}

const printable = (path: string) => (path.startsWith('\0') ? `@${path.slice(1)}` : path);

/**
 * SASL EXTERNAL (the server reads our uid from the socket's credentials; we
 * name it, in hex of its decimal digits), then BEGIN. Returns any bytes that
 * came after the server's OK line (none, in practice: the server speaks
 * only when spoken to).
 */
function authenticate(socket: Socket, timeoutMs: number): Promise<Buffer> {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const hexUid = Buffer.from(String(uid), 'ascii').toString('hex');
  return new Promise((resolve, reject) => {
    let got: Buffer = Buffer.alloc(0);
    const done = (err?: Error, rest?: Buffer) => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
      if (err) reject(err);
      else resolve(rest ?? Buffer.alloc(0));
    };
    const onData = (d: Buffer) => {
      got = Buffer.concat([got, d]);
      const eol = got.indexOf('\r\n');
      if (eol < 0) {
        if (got.length > 4096) done(new DBusConnectionError('D-Bus authentication: no line from the server'));
        return;
      }
      const line = got.toString('ascii', 0, eol);
      if (line.startsWith('OK ')) {
        socket.write('BEGIN\r\n');
        done(undefined, got.subarray(eol + 2));
      } else {
        done(new DBusConnectionError(`D-Bus authentication refused: ${line}`));
      }
    };
    const onError = (e: Error) => done(new DBusConnectionError(`D-Bus authentication: ${e.message}`));
    const onClose = () => done(new DBusConnectionError('D-Bus authentication: the server closed the connection'));
    const timer = setTimeout(() => done(new DBusConnectionError('D-Bus authentication timed out')), timeoutMs);
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.write(`\0AUTH EXTERNAL ${hexUid}\r\n`);
  });
}
