/**
 * A minimal CRI client (runtime.v1.RuntimeService, as the kubelet uses it)
 * over gRPC on containerd's socket, with node:http2 and a few lines of
 * protobuf: enough to run a pod through a runtime handler of containerd's
 * config.toml (a `runtimes.NAME` entry with options.BinaryName), which is
 * how Kubernetes (RuntimeClass) selects a runtime. Field numbers are those
 * of k8s.io/cri-api's api.proto.
 */
import { connect as h2connect, constants } from 'node:http2';
import { connect as netConnect } from 'node:net';

/** A protobuf message: [field number, value] pairs; a nested message is an array of pairs; repeat a field to repeat it. */
export type Field = [number, string | number | boolean | Field[]];

function varint(n: bigint | number): Buffer {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return Buffer.from(out);
}

export function encode(fields: Field[]): Buffer {
  const parts: Buffer[] = [];
  for (const [no, v] of fields) {
    if (typeof v === 'number' || typeof v === 'boolean') {
      parts.push(varint(no << 3), varint(typeof v === 'boolean' ? (v ? 1 : 0) : v));
    } else {
      const b = typeof v === 'string' ? Buffer.from(v) : encode(v);
      parts.push(varint((no << 3) | 2), varint(b.length), b);
    }
  }
  return Buffer.concat(parts);
}

/** A decoded message: field number → values (varints as bigint, length-delimited as Buffer). */
export type Decoded = Map<number, (bigint | Buffer)[]>;

export function decode(buf: Buffer): Decoded {
  const m: Decoded = new Map();
  let i = 0;
  const readVarint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(readVarint());
    const no = key >> 3;
    let val: bigint | Buffer;
    switch (key & 7) {
      case 0:
        val = readVarint();
        break;
      case 1:
        val = buf.subarray(i, i + 8);
        i += 8;
        break;
      case 2: {
        const len = Number(readVarint());
        val = buf.subarray(i, i + len);
        i += len;
        break;
      }
      case 5:
        val = buf.subarray(i, i + 4);
        i += 4;
        break;
      default:
        throw new Error(`protobuf wire type ${key & 7} not handled`);
    }
    if (!m.has(no)) m.set(no, []);
    m.get(no)!.push(val);
  }
  return m;
}

export const str = (m: Decoded, no: number): string => ((m.get(no)?.[0] as Buffer | undefined) ?? Buffer.alloc(0)).toString();
export const num = (m: Decoded, no: number): number => Number(BigInt.asIntN(64, (m.get(no)?.[0] as bigint | undefined) ?? 0n));
export const sub = (m: Decoded, no: number): Decoded => decode((m.get(no)?.[0] as Buffer | undefined) ?? Buffer.alloc(0));

/** One unary gRPC call on a unix socket. */
export function grpc(sock: string, path: string, request: Field[], timeoutMs = 60_000): Promise<Decoded> {
  return new Promise((resolve, reject) => {
    const session = h2connect('http://localhost', { createConnection: () => netConnect(sock) });
    const done = (e?: Error, v?: Decoded) => {
      clearTimeout(timer);
      session.close();
      if (e) reject(e);
      else resolve(v!);
    };
    const timer = setTimeout(() => done(new Error(`${path}: no answer in ${timeoutMs} ms`)), timeoutMs);
    session.on('error', (e) => done(e));
    const body = encode(request);
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    body.copy(frame, 5);
    const req = session.request({
      [constants.HTTP2_HEADER_METHOD]: 'POST',
      [constants.HTTP2_HEADER_PATH]: path,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    let message = '';
    const takeStatus = (h: Record<string, unknown>) => {
      if (h['grpc-status'] !== undefined) {
        status = String(h['grpc-status']);
        message = decodeURIComponent(String(h['grpc-message'] ?? ''));
      }
    };
    req.on('response', takeStatus);
    req.on('trailers', takeStatus);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', (e) => done(e));
    req.on('end', () => {
      if (status !== '0') return done(new Error(`${path}: grpc-status ${status}: ${message}`));
      const all = Buffer.concat(chunks);
      done(undefined, all.length >= 5 ? decode(all.subarray(5, 5 + all.readUInt32BE(1))) : new Map());
    });
    req.end(frame);
  });
}

const RT = '/runtime.v1.RuntimeService/';
/** NamespaceMode NODE: the host's namespace (a hostNetwork pod needs no CNI). */
const NODE = 2;
export const ContainerState = { CREATED: 0, RUNNING: 1, EXITED: 2, UNKNOWN: 3 } as const;

export class CriClient {
  constructor(readonly sock: string) {}

  /**
   * PodSandboxConfig for a hostNetwork pod (no hostname: the pod shares the host's UTS namespace too),
   * or with network "pod" a pod network: containerd makes a namespace under /var/run/netns, has CNI set it up,
   * and gives the runtime its path.
   */
  podConfig(name: string, uid: string, logDir: string, network: 'node' | 'pod' = 'node'): Field[] {
    return [
      [1, [[1, name], [2, uid], [3, 'e2e'], [4, 0]]],
      [3, logDir],
      [8, [[2, [[1, network === 'node' ? [[1, NODE]] : []]]]]],
    ];
  }

  async runPodSandbox(config: Field[], runtimeHandler: string): Promise<string> {
    return str(await grpc(this.sock, RT + 'RunPodSandbox', [[1, config], [2, runtimeHandler]]), 1);
  }

  async createContainer(podId: string, podConfig: Field[], name: string, image: string, command: string[], logPath: string): Promise<string> {
    const config: Field[] = [[1, [[1, name], [2, 0]]], [2, [[1, image]]], ...command.map((c): Field => [3, c]), [11, logPath]];
    return str(await grpc(this.sock, RT + 'CreateContainer', [[1, podId], [2, config], [3, podConfig]]), 1);
  }

  async startContainer(id: string): Promise<void> {
    await grpc(this.sock, RT + 'StartContainer', [[1, id]]);
  }

  async containerStatus(id: string): Promise<{ state: number; exitCode: number; reason: string; message: string }> {
    const s = sub(await grpc(this.sock, RT + 'ContainerStatus', [[1, id]]), 1);
    return { state: num(s, 3), exitCode: num(s, 7), reason: str(s, 10), message: str(s, 11) };
  }

  async execSync(id: string, cmd: string[], timeoutS = 10): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    const r = await grpc(this.sock, RT + 'ExecSync', [[1, id], ...cmd.map((c): Field => [2, c]), [3, timeoutS]]);
    return { stdout: str(r, 1), stderr: str(r, 2), exitCode: num(r, 3) };
  }

  /** LinuxContainerResources: cpu_shares = 3, memory_limit_in_bytes = 4. */
  async updateContainerResources(id: string, r: { memoryLimitInBytes: number; cpuShares: number }): Promise<void> {
    await grpc(this.sock, RT + 'UpdateContainerResources', [[1, id], [2, [[3, r.cpuShares], [4, r.memoryLimitInBytes]]]]);
  }

  async stopPodSandbox(id: string): Promise<void> {
    await grpc(this.sock, RT + 'StopPodSandbox', [[1, id]]);
  }

  async removePodSandbox(id: string): Promise<void> {
    await grpc(this.sock, RT + 'RemovePodSandbox', [[1, id]]);
  }
}
