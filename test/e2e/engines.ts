/**
 * The three engines, each started with its own config, root, state and
 * socket under a scratch directory (never the system's /var/lib/containerd,
 * /var/lib/docker or default sockets), pointed at RUNTIME, and torn down
 * with everything they made: containers, images, mounts, shims.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Daemon, DOCKER, LoggedRuntime, IMAGE, PAUSE_IMAGE, RUNTIME, RUNTIME_NAME, imageTar, killLeftovers, mountsUnder, ok, processesMentioning, run, show, sleep, unmountUnder, waitFor, writeJson, type Result, type RunOptions } from './lib';
import { writeCniConfig } from './cni';

/** The bridge of the CRI pod network (test/e2e/cni.ts). */
export const CRI_BRIDGE = 'tsrt-e2e0';

// ---------------------------------------------------------------- containerd

export class Containerd {
  readonly sock: string;
  readonly fifoDir: string;
  /** The runtime's --root for containers made through ctr (the shim adds /<namespace>). */
  readonly runtimeRoot: string;
  /** The runtime's --root for the CRI runtime entry "tsrunc" of config.toml. */
  readonly criRuntimeRoot: string;
  private daemon?: Daemon;

  constructor(readonly dir: string) {
    this.sock = join(dir, 'containerd.sock');
    this.fifoDir = join(dir, 'fifo');
    this.runtimeRoot = join(dir, 'runtime-root');
    this.criRuntimeRoot = join(dir, 'cri-runtime-root');
  }

  /** config.toml: everything under dir; the CRI runtime entry "tsrunc" with options.BinaryName = RUNTIME. */
  config(): string {
    const d = this.dir;
    const cri = 'plugins."io.containerd.grpc.v1.cri"';
    return `version = 2
root = "${d}/root"
state = "${d}/state"
plugin_dir = ""

[grpc]
  address = "${this.sock}"
[ttrpc]
  address = "${this.sock}.ttrpc"
[debug]
  address = "${d}/debug.sock"
  level = "info"

[plugins."io.containerd.internal.v1.opt"]
  path = "${d}/opt"

[${cri}]
  # CAP_SYS_RESOURCE is not in this machine's bounding set: the pod sandbox's oom_score_adj -998 would fail.
  restrict_oom_score_adj = true
  sandbox_image = "docker.io/${PAUSE_IMAGE}"
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
[${cri}.cni]
  bin_dir = "${d}/cni/bin"
  conf_dir = "${d}/cni/net.d"
[${cri}.containerd]
  default_runtime_name = "runc"
[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[${cri}.containerd.runtimes.runc.options]
  Root = "${d}/cri-runc-root"
[${cri}.containerd.runtimes.${RUNTIME_NAME}]
  runtime_type = "io.containerd.runc.v2"
[${cri}.containerd.runtimes.${RUNTIME_NAME}.options]
  BinaryName = "${RUNTIME}"
  Root = "${this.criRuntimeRoot}"
`;
  }

  async start(): Promise<void> {
    for (const sub of ['fifo', 'cni/bin', 'cni/net.d']) mkdirSync(join(this.dir, sub), { recursive: true });
    // A pod network for CRI pods that are not hostNetwork (hostNetwork pods do not use it).
    writeCniConfig(join(this.dir, 'cni/bin'), join(this.dir, 'cni/net.d'), join(this.dir, 'cni/ipam'), CRI_BRIDGE, '10.89.77.0/24');
    writeFileSync(join(this.dir, 'config.toml'), this.config());
    this.daemon = new Daemon('containerd', '/usr/bin/containerd', ['--config', join(this.dir, 'config.toml')], join(this.dir, 'containerd.log'));
    await this.daemon.ready(async () => existsSync(this.sock) && (await run('ctr', ['-a', this.sock, 'version'], { timeoutMs: 5_000 })).code === 0);
  }

  ctr(args: string[], o: RunOptions = {}): Promise<Result> {
    return run('/usr/bin/ctr', ['-a', this.sock, ...args], o);
  }

  /** The flags of `ctr run` that plug RUNTIME in: --runc-binary (shim option BinaryName), --runc-root, --fifo-dir. */
  runFlags(): string[] {
    return ['--fifo-dir', this.fifoDir, '--runc-binary', RUNTIME, '--runc-root', this.runtimeRoot];
  }

  async importImage(ns = 'default'): Promise<void> {
    await ok('/usr/bin/ctr', ['-a', this.sock, '-n', ns, 'images', 'import', imageTar()]);
  }

  /** The tasks of a namespace: id → { pid, status }. */
  async tasks(ns = 'default'): Promise<Map<string, { pid: number; status: string }>> {
    const r = await this.ctr(['-n', ns, 'task', 'ls']);
    if (r.code !== 0) throw new Error(`ctr task ls: ${show(r)}`);
    const m = new Map<string, { pid: number; status: string }>();
    for (const l of r.stdout.trim().split('\n').slice(1)) {
      const [id, pid, status] = l.trim().split(/\s+/);
      if (id) m.set(id, { pid: Number(pid), status });
    }
    return m;
  }

  async containers(ns = 'default'): Promise<string[]> {
    const r = await this.ctr(['-n', ns, 'containers', 'ls', '-q']);
    return r.stdout.split('\n').filter(Boolean);
  }

  /** Removes every task and container (and, with images, every image) of every namespace. */
  async clean(images = false): Promise<string[]> {
    const found: string[] = [];
    const nss = (await this.ctr(['namespaces', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
    for (const ns of nss) {
      const tasks = await this.tasks(ns);
      for (const [id, t] of tasks) {
        found.push(`task ${ns}/${id} (${t.status})`);
        if (t.status === 'PAUSED') await this.ctr(['-n', ns, 'task', 'resume', id]);
        if (t.status !== 'STOPPED') await this.ctr(['-n', ns, 'task', 'kill', '-a', '-s', 'SIGKILL', id]);
      }
      for (const id of tasks.keys()) {
        await waitFor(`task ${id} to stop`, async () => (await this.tasks(ns)).get(id)?.status !== 'RUNNING', 10_000).catch(() => {});
        await this.ctr(['-n', ns, 'task', 'delete', '-f', id]);
      }
      for (const id of await this.containers(ns)) {
        found.push(`container ${ns}/${id}`);
        await this.ctr(['-n', ns, 'containers', 'delete', id]);
      }
      if (images) {
        const imgs = (await this.ctr(['-n', ns, 'images', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
        if (imgs.length) await this.ctr(['-n', ns, 'images', 'rm', '--sync', ...imgs]);
      }
    }
    return found;
  }

  /** Cleans up, stops containerd, kills shims that outlived it, unmounts what is left. */
  async stop(): Promise<void> {
    if (this.daemon && this.daemon.exitStatus === undefined) await this.clean(true).catch(() => {});
    await this.daemon?.stop();
    await killLeftovers(this.sock);
    await unmountUnder(this.dir);
  }

  logTail(n = 40): string {
    return this.daemon?.logTail(n) ?? '';
  }
}

// ---------------------------------------------------------------- Docker

export class Dockerd {
  readonly sock: string;
  readonly execRoot: string;
  private daemon?: Daemon;
  readonly env: NodeJS.ProcessEnv;
  /** RUNTIME behind a call log, registered as "<name>-logged". */
  readonly logged: LoggedRuntime;

  constructor(
    readonly dir: string,
    readonly containerd: Containerd,
  ) {
    this.logged = new LoggedRuntime(join(dir, 'logged'));
    this.sock = join(dir, 'docker.sock');
    this.execRoot = join(dir, 'exec');
    this.env = { ...process.env, DOCKER_HOST: `unix://${this.sock}`, DOCKER_CONFIG: join(dir, 'client') };
  }

  /** The runtime's --root for Docker's containers: dockerd 20.10 passes <exec-root>/runtime-runc for every runtime, the shim adds /moby. */
  get runtimeRoot(): string {
    return join(this.execRoot, 'runtime-runc', 'moby');
  }

  /** Starts dockerd with overlay2 (E2E_DOCKER_STORAGE overrides); if overlay2 cannot work here, says so and uses vfs. */
  async start(): Promise<void> {
    const wanted = process.env.E2E_DOCKER_STORAGE;
    if (wanted) return this.startWith(wanted);
    try {
      await this.startWith('overlay2');
    } catch (e) {
      process.stderr.write(`e2e: dockerd could not start with overlay2, retrying with vfs: ${(e as Error).message}\n`);
      await this.daemon?.stop();
      await unmountUnder(this.dir);
      rmSync(join(this.dir, 'data'), { recursive: true, force: true });
      await this.startWith('vfs');
    }
  }

  private async startWith(storageDriver: string): Promise<void> {
    // daemon.json carries the runtime, as a user would configure it; --add-runtime would do the same.
    writeJson(join(this.dir, 'daemon.json'), { runtimes: { [RUNTIME_NAME]: { path: RUNTIME }, [`${RUNTIME_NAME}-logged`]: { path: this.logged.path } } });
    mkdirSync(join(this.dir, 'client'), { recursive: true });
    const args = [
      '--config-file', join(this.dir, 'daemon.json'),
      '--data-root', join(this.dir, 'data'),
      '--exec-root', this.execRoot,
      '--pidfile', join(this.dir, 'docker.pid'),
      '-H', `unix://${this.sock}`,
      '--containerd', this.containerd.sock,
      '--iptables=false', '--ip-masq=false', '--bridge=none', '--userland-proxy=false',
      '--storage-driver', storageDriver,
    ];
    this.daemon = new Daemon('dockerd', '/usr/sbin/dockerd', args, join(this.dir, 'dockerd.log'));
    await this.daemon.ready(async () => existsSync(this.sock) && (await this.docker(['version'], { timeoutMs: 5_000 })).code === 0, 60_000);
  }

  docker(args: string[], o: RunOptions = {}): Promise<Result> {
    return run(DOCKER, args, { ...o, env: this.env });
  }

  /** `docker run` flags that select RUNTIME and no network. */
  runFlags(): string[] {
    return ['--runtime', RUNTIME_NAME, '--network', 'none'];
  }

  async loadImage(): Promise<void> {
    const r = await this.docker(['load', '-i', imageTar()]);
    if (r.code !== 0) throw new Error(`docker load: ${show(r)}`);
  }

  async clean(images = false): Promise<string[]> {
    const ids = (await this.docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
    if (ids.length) await this.docker(['rm', '-f', ...ids]);
    if (images) {
      const imgs = (await this.docker(['images', '-aq'])).stdout.split('\n').filter(Boolean);
      if (imgs.length) await this.docker(['rmi', '-f', ...new Set(imgs)]);
    }
    return ids.map((i) => `container ${i}`);
  }

  async stop(): Promise<void> {
    if (this.daemon && this.daemon.exitStatus === undefined) await this.clean(true).catch(() => {});
    await this.daemon?.stop(30_000);
    await killLeftovers(this.sock);
    await unmountUnder(this.dir);
  }

  logTail(n = 40): string {
    return this.daemon?.logTail(n) ?? '';
  }
}

// ---------------------------------------------------------------- podman

export class Podman {
  readonly env: NodeJS.ProcessEnv;
  /** RUNTIME behind a call log: `podman --runtime <logged.path>`. */
  readonly logged: LoggedRuntime;

  constructor(readonly dir: string) {
    this.logged = new LoggedRuntime(join(dir, 'logged'));
    const conf = join(dir, 'containers.conf');
    this.env = {
      ...process.env,
      CONTAINERS_CONF: conf,
      CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'),
      CONTAINERS_REGISTRIES_CONF: join(dir, 'registries.conf'),
      XDG_CONFIG_HOME: join(dir, 'config'),
    };
  }

  /** containers.conf: RUNTIME as the runtime, default_ulimits this machine allows, no systemd, state under dir. */
  config(): string {
    const d = this.dir;
    return `[containers]
# podman's default ulimits (nofile/nproc 1048576) exceed this machine's hard limits and CAP_SYS_RESOURCE is not in the bounding set.
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"

[network]
network_config_dir = "${d}/networks"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "${d}/events.log"
tmp_dir = "${d}/tmp"
volume_path = "${d}/volumes"
static_dir = "${d}/storage/libpod"
lock_type = "file"
runtime = "${RUNTIME_NAME}"
conmon_env_vars = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "CONTAINERS_CONF=${join(d, 'containers.conf')}", "CONTAINERS_STORAGE_CONF=${join(d, 'storage.conf')}"]

[engine.runtimes]
${RUNTIME_NAME} = ["${RUNTIME}"]
${RUNTIME_NAME}-logged = ["${this.logged.path}"]
`;
  }

  async setup(): Promise<void> {
    const d = this.dir;
    for (const sub of ['networks', 'tmp', 'volumes', 'config']) mkdirSync(join(d, sub), { recursive: true });
    writeFileSync(join(d, 'containers.conf'), this.config());
    writeFileSync(join(d, 'storage.conf'), `[storage]\ndriver = "overlay"\ngraphroot = "${d}/storage"\nrunroot = "${d}/run"\n`);
    writeFileSync(join(d, 'registries.conf'), 'unqualified-search-registries = []\n');
    const r = await this.podman(['info', '--format', '{{.Host.OCIRuntime.Path}} {{.Store.GraphRoot}}']);
    if (r.code !== 0) throw new Error(`podman cannot start here: ${show(r)}`);
  }

  /** podman with its private storage and `--runtime RUNTIME`. */
  podman(args: string[], o: RunOptions & { runtime?: string } = {}): Promise<Result> {
    return run('/usr/bin/podman', this.args(args, o.runtime), { ...o, env: this.env });
  }

  args(args: string[], runtime = RUNTIME): string[] {
    return ['--root', join(this.dir, 'storage'), '--runroot', join(this.dir, 'run'), '--runtime', runtime, ...args];
  }

  /** The name podman gave IMAGE when loading it (podman 4.3 says localhost/ or docker.io/ depending on the archive's layout). */
  image = `docker.io/${IMAGE}`;

  async loadImage(): Promise<void> {
    const r = await this.podman(['load', '-i', imageTar()]);
    if (r.code !== 0) throw new Error(`podman load: ${show(r)}`);
    const loaded = [...r.stdout.matchAll(/^Loaded image(?:\(s\))?: (.*)$/gm)].flatMap((m) => m[1].split(','));
    const mine = loaded.find((l) => l.endsWith(`/${IMAGE}`));
    if (!mine) throw new Error(`podman load did not load ${IMAGE}: ${show(r)}`);
    this.image = mine;
  }

  async clean(images = false): Promise<string[]> {
    const ids = (await this.podman(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
    if (ids.length) {
      await this.podman(['unpause', '--all']);
      await this.podman(['rm', '-f', '-t', '0', ...ids]);
    }
    if (images) await this.podman(['rmi', '-af']);
    return ids.map((i) => `container ${i}`);
  }

  async stop(): Promise<void> {
    await this.clean(true).catch(() => {});
    await this.podman(['system', 'prune', '-f']).catch(() => {});
    // conmon and its cleanup processes run for a moment after `rm`.
    await waitFor('podman processes to end', () => processesMentioning(this.dir).length === 0, 5_000).catch(() => {});
    await killLeftovers(this.dir);
    await sleep(100);
    await unmountUnder(this.dir);
    if (mountsUnder(this.dir).length === 0) rmSync(join(this.dir, 'storage'), { recursive: true, force: true });
  }
}
