/**
 * The benchmark's private containerd: config, root, state and sockets all
 * under one scratch directory (never the system's /var/lib/containerd or
 * /run/containerd/containerd.sock), and a busybox image made offline, by
 * hand, as an OCI image layout (no registry, no network).
 *
 * The minimum of test/e2e/engines.ts and test/e2e/global-setup.ts, in plain
 * JS so that the bench needs no TypeScript: no CRI plugin (ctr does not use
 * it), one image. Everything that stops it is synchronous, so that it can
 * run from an exit handler after a failure or Ctrl-C.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const CONTAINERD = '/usr/bin/containerd';
export const CTR = '/usr/bin/ctr';
export const IMAGE = 'docker.io/tsrunc-bench/busybox:latest';
/** Where every containerd's runtime v2 shims put their sockets, whatever the daemon's own paths. */
const SHIM_SOCKET_DIR = '/run/containerd/s';

const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/** Sleeps without an event loop (for the synchronous stop). */
const sleepSync = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * An OCI image layout archive of rootfs, for `ctr images import`: one
 * uncompressed layer, a config with `sh` as its command, a manifest, and an
 * index naming the image IMAGE (annotation io.containerd.image.name).
 */
export function buildImage(rootfs, dir, out) {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const layerTmp = join(dir, 'layer.tar');
  const t = spawnSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-C', rootfs, '-cf', layerTmp, '.'], { encoding: 'utf8' });
  if (t.status !== 0) throw new Error(`tar of ${rootfs} failed: ${t.stderr || t.error?.message}`);
  const layer = readFileSync(layerTmp);
  const layerDigest = sha256(layer);
  renameSync(layerTmp, join(blobs, layerDigest));
  const blob = (s) => {
    const d = sha256(s);
    writeFileSync(join(blobs, d), s);
    return { digest: `sha256:${d}`, size: Buffer.byteLength(s) };
  };
  const config = blob(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    created: '1970-01-01T00:00:00Z',
    config: { Env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'], WorkingDir: '/' },
    rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
  }));
  const manifest = blob(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${layerDigest}`, size: layer.length }],
  }));
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      ...manifest,
      annotations: { 'io.containerd.image.name': IMAGE, 'org.opencontainers.image.ref.name': 'latest' },
    }],
  }));
  const a = spawnSync('tar', ['-C', dir, '-cf', out, 'oci-layout', 'index.json', 'blobs'], { encoding: 'utf8' });
  if (a.status !== 0) throw new Error(`tar of the image layout failed: ${a.stderr || a.error?.message}`);
}

function procState(pid) {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return raw.slice(raw.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

export class PrivateContainerd {
  constructor(dir) {
    this.dir = dir;
    this.sock = join(dir, 'containerd.sock');
    this.fifoDir = join(dir, 'fifo');
    this.log = join(dir, 'containerd.log');
    this.child = undefined;
    /** Container ids run through this daemon (namespace "default"), to find their shim sockets. */
    this.ids = new Set();
    this.shimDirsBefore = [SHIM_SOCKET_DIR, '/run/containerd'].filter((p) => existsSync(p));
  }

  config() {
    const d = this.dir;
    return `version = 2
root = "${d}/root"
state = "${d}/state"
plugin_dir = ""
# ctr does not use the CRI plugin; without it containerd starts faster and needs no CNI.
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "${this.sock}"
[ttrpc]
  address = "${this.sock}.ttrpc"
[debug]
  address = "${d}/debug.sock"
  level = "info"

[plugins."io.containerd.internal.v1.opt"]
  path = "${d}/opt"
`;
  }

  ctr(...args) {
    return [CTR, '-a', this.sock, ...args];
  }

  /** Runs ctr to its end (synchronously), returning spawnSync's result. */
  ctrSync(args, timeoutMs = 30_000) {
    const [cmd, ...rest] = this.ctr(...args);
    return spawnSync(cmd, rest, { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' });
  }

  alive() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return false;
    const s = procState(this.child.pid);
    return s !== undefined && s !== 'Z' && s !== 'X';
  }

  logTail(lines = 20) {
    try {
      return readFileSync(this.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Starts the daemon and waits until `ctr version` answers; throws (with its log) if it cannot. */
  async start({ timeoutMs = 30_000, interrupted = () => false } = {}) {
    mkdirSync(this.fifoDir, { recursive: true });
    writeFileSync(join(this.dir, 'config.toml'), this.config());
    const fd = openSync(this.log, 'a');
    // Its own process group: a Ctrl-C at the terminal reaches the bench, which then stops it in order.
    this.child = spawn(CONTAINERD, ['--config', join(this.dir, 'config.toml')], { stdio: ['ignore', fd, fd], detached: true });
    closeSync(fd);
    this.child.on('error', () => {}); // seen through alive() and the log
    this.child.unref();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (interrupted()) return;
      if (!this.alive()) throw new Error(`containerd could not start (exit ${this.child.exitCode ?? this.child.signalCode}); its log:\n${this.logTail()}`);
      if (existsSync(this.sock) && this.ctrSync(['version'], 5_000).status === 0) return;
      if (Date.now() > deadline) throw new Error(`containerd did not answer in ${timeoutMs} ms; its log:\n${this.logTail()}`);
      await sleep(100);
    }
  }

  version() {
    const r = this.ctrSync(['version']);
    const m = /Server:[\s\S]*?Version:\s*(\S+)/.exec(r.stdout ?? '');
    return m ? m[1] : 'unknown';
  }

  importImage(tar) {
    const r = this.ctrSync(['images', 'import', tar], 120_000);
    if (r.status !== 0) throw new Error(`ctr images import failed: ${(r.stderr || r.stdout || r.error?.message || '').trim()}`);
  }

  /** `ctr run --rm` of IMAGE with runtimeBinary as the shim's runc binary and runtimeRoot as its --root. */
  runArgv(runtimeBinary, runtimeRoot, id, cmd) {
    this.ids.add(id);
    return this.ctr('run', '--rm', '--fifo-dir', this.fifoDir, '--runc-binary', runtimeBinary, '--runc-root', runtimeRoot, IMAGE, id, ...cmd);
  }

  /** The tasks and containers of namespace "default" that are still there. */
  leftovers() {
    const tasks = (this.ctrSync(['task', 'ls', '-q']).stdout ?? '').split('\n').filter(Boolean);
    const containers = (this.ctrSync(['containers', 'ls', '-q']).stdout ?? '').split('\n').filter(Boolean);
    return { tasks, containers };
  }

  /** Removes every task, container and image of every namespace (synchronous, best effort). */
  clean() {
    const nss = (this.ctrSync(['namespaces', 'ls', '-q']).stdout ?? '').split('\n').filter(Boolean);
    for (const ns of nss) {
      const tasks = (this.ctrSync(['-n', ns, 'task', 'ls', '-q']).stdout ?? '').split('\n').filter(Boolean);
      for (const id of tasks) {
        this.ctrSync(['-n', ns, 'task', 'kill', '-a', '-s', 'SIGKILL', id]);
        this.ctrSync(['-n', ns, 'task', 'delete', '-f', id]);
      }
      for (const id of (this.ctrSync(['-n', ns, 'containers', 'ls', '-q']).stdout ?? '').split('\n').filter(Boolean)) {
        this.ctrSync(['-n', ns, 'containers', 'delete', id]);
      }
      const imgs = (this.ctrSync(['-n', ns, 'images', 'ls', '-q']).stdout ?? '').split('\n').filter(Boolean);
      if (imgs.length) this.ctrSync(['-n', ns, 'images', 'rm', '--sync', ...imgs], 60_000);
    }
  }

  /** Cleans up, then SIGTERM, then SIGKILL to its process group after timeoutMs. Synchronous and idempotent. */
  stop(timeoutMs = 10_000) {
    if (!this.child) return;
    if (this.alive()) {
      this.clean();
      try { this.child.kill('SIGTERM'); } catch { /* gone */ }
      const deadline = Date.now() + timeoutMs;
      while (this.alive() && Date.now() < deadline) sleepSync(50);
      if (this.alive()) {
        try { process.kill(-this.child.pid, 'SIGKILL'); } catch { /* gone */ }
      }
    }
    this.removeShimSockets();
  }

  /**
   * The shims' sockets are outside dir: /run/containerd/s/<sha256 of "<grpc address>/<namespace>/<id>">
   * (containerd 1.6, runtime/v2/shim SocketAddress). A shim removes its own when it exits cleanly;
   * those of a killed shim are removed here. The directories go only if this run made them and they are empty.
   */
  removeShimSockets() {
    for (const id of this.ids) rmSync(join(SHIM_SOCKET_DIR, sha256(join(this.sock, 'default', id))), { force: true });
    for (const d of [SHIM_SOCKET_DIR, '/run/containerd']) {
      if (this.shimDirsBefore.includes(d) || !existsSync(d)) continue;
      try { rmdirSync(d); } catch { /* not empty: another containerd's */ }
    }
  }
}
