import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, closeSync, fstatSync, openSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { encodeRequest, FrameSplitter, type Field } from '../init/protocol';
import { main, type Invocation } from '../cli/main';
import { readProcStat } from '../state/proc';
import { flock, LOCK_EX, LOCK_NB } from '../sys/libc';
import { FieldReader, Msg } from './protocol';
import { RemoteLauncher } from './remote-launcher';

const INIT_HELLO = 'tsrunc-init:';
/** The client binary, for command lines that run tsrunc again (the foreground shim's cleanup). */
export const CLIENT_BINARY = join(__dirname, '..', '..', 'addon', 'build', 'tsrunc');

/**
 * The warm tsrunc server: one Node process that runs tsrunc commands for
 * tsrunc clients (addon/client.c), so that a call costs a connection rather
 * than a Node start (~60 ms). It listens on a root-only unix socket whose
 * name encodes the build and the namespaces it serves, and exits after
 * `idleMs` without a client. Command handlers never touch process globals,
 * so concurrent calls do not interfere; calls on one container serialise on
 * its lock as they would between processes.
 *
 * tsrunc-init processes that the clients fork for `create` dial the same
 * socket and introduce themselves with a token (see RemoteLauncher).
 */
export class TsruncServer {
  private server?: Server;
  private active = 0;
  private idleTimer?: NodeJS.Timeout;
  private readonly inits = new Map<string, (sock: Socket) => void>();
  /** The inode of the socket this server bound, to tell it from a later server's. */
  private socketIno = 0;

  constructor(readonly socketPath: string, private readonly idleMs: number) {}

  async start(): Promise<void> {
    // The client that started us holds the start lock and found no one answering: a leftover file is stale.
    try {
      unlinkSync(this.socketPath);
    } catch {
      // none
    }
    const server = createServer((sock) => this.accept(sock));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => resolve());
    });
    chmodSync(this.socketPath, 0o600);
    this.socketIno = statSync(this.socketPath).ino;
    this.armIdle();
  }

  /** Resolves with the connection of the tsrunc-init started with this token. */
  expectInit(token: string): { connected: Promise<Socket>; cancel: () => void } {
    let cancel = () => {};
    const connected = new Promise<Socket>((resolve) => {
      this.inits.set(token, resolve);
      cancel = () => this.inits.delete(token);
    });
    return { connected, cancel };
  }

  private accept(sock: Socket): void {
    this.active++;
    clearTimeout(this.idleTimer);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.active--;
      this.armIdle();
    };
    sock.on('close', finish);
    sock.on('error', () => sock.destroy());
    const splitter = new FrameSplitter();
    const onData = (chunk: Buffer) => {
      const [first, ...rest] = splitter.push(chunk);
      if (!first) return;
      sock.off('data', onData);
      if (first.toString('latin1', 0, INIT_HELLO.length) === INIT_HELLO) {
        // A container's init: from now on its socket belongs to the create that launched it.
        finish();
        const claim = this.inits.get(first.toString('latin1', INIT_HELLO.length));
        if (claim) {
          this.inits.delete(first.toString('latin1', INIT_HELLO.length));
          claim(sock);
        } else {
          sock.destroy();
        }
        return;
      }
      const client = new ClientConnection(sock, splitter, rest);
      void this.serve(client, new FieldReader(first)).finally(() => sock.end());
    };
    sock.on('data', onData);
  }

  private async serve(client: ClientConnection, hello: FieldReader): Promise<void> {
    if (hello.u32() !== Msg.Hello) return;
    const argv = hello.strs();
    const environ = hello.strs();
    const cwd = hello.str();
    const pid = Number(hello.u64());
    const env: NodeJS.ProcessEnv = {};
    for (const kv of environ) {
      const eq = kv.indexOf('=');
      if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    const inv: Invocation = {
      env, cwd,
      stdout: (s) => client.send(Msg.Output, [1, s]),
      stderr: (s) => client.send(Msg.Output, [2, s]),
      readStdin: async () => (await client.request(Msg.ReadStdin, [], Msg.Input)).str(),
      caller: { pid, ppid: readProcStat(pid)?.ppid ?? 1 },
      launcher: new RemoteLauncher(client, this),
      self: [CLIENT_BINARY],
    };
    const code = await main(argv, inv);
    client.send(Msg.Exit, [code]);
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    if (this.active > 0 || this.inits.size > 0) return;
    this.idleTimer = setTimeout(() => this.stopIfIdle(), this.idleMs);
    this.idleTimer.unref();
  }

  private stopIfIdle(): void {
    if (this.active > 0 || this.inits.size > 0) return;
    // Remove the name first: a client arriving now starts a new server instead of reaching one that is
    // leaving. Only if the name is still ours: a server started meanwhile may have taken it over.
    try {
      if (statSync(this.socketPath).ino === this.socketIno) unlinkSync(this.socketPath);
    } catch {
      // gone already
    }
    this.removeStartLock();
    this.server?.close();
    process.exit(0);
  }

  /**
   * Removes the clients' start lock (`<socket>.lock`) unless a client holds it, so that every build and set
   * of namespaces does not leave one behind in /run. A client that opened it just before checks, once it
   * has the lock, that the file is still the one named, and otherwise takes the new one (addon/client.c).
   */
  private removeStartLock(): void {
    const lockPath = `${this.socketPath}.lock`;
    let fd: number;
    try {
      fd = openSync(lockPath, 'r');
    } catch {
      return;
    }
    try {
      if (flock(fd, LOCK_EX | LOCK_NB) && fstatSync(fd).ino === statSync(lockPath).ino) unlinkSync(lockPath);
    } catch {
      // gone or replaced meanwhile: the file named now is someone else's
    } finally {
      closeSync(fd);
    }
  }
}

/** One client: requests out, the replies it sends back matched in order. */
export class ClientConnection {
  private waiting: { type: Msg; resolve: (r: FieldReader) => void; reject: (e: Error) => void }[] = [];
  private closed = false;

  constructor(private readonly sock: Socket, splitter: FrameSplitter, early: Buffer[]) {
    const handle = (frame: Buffer) => {
      const r = new FieldReader(frame);
      const type = r.u32();
      const next = this.waiting.shift();
      if (next && next.type === type) next.resolve(r);
      else next?.reject(new Error(`tsrunc client: unexpected message ${type}`));
    };
    early.forEach(handle);
    sock.on('data', (chunk: Buffer) => splitter.push(chunk).forEach(handle));
    sock.on('close', () => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w.reject(new Error('the tsrunc client went away'));
    });
  }

  send(type: Msg, fields: Field[]): void {
    if (!this.closed) this.sock.write(encodeRequest(type as number, fields));
  }

  request(type: Msg, fields: Field[], reply: Msg): Promise<FieldReader> {
    if (this.closed) return Promise.reject(new Error('the tsrunc client went away'));
    return new Promise((resolve, reject) => {
      this.waiting.push({ type: reply, resolve, reject });
      this.send(type, fields);
    });
  }
}
