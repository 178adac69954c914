import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, rmdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { IMAGE, PAUSE_IMAGE, processesMentioning, repo, RUNTIME } from './lib';

/** Programs the suite drives; a missing one fails the run (the engines come from .ci/run's apt line). */
const TOOLS = ['/usr/bin/containerd', '/usr/bin/ctr', '/usr/bin/containerd-shim-runc-v2', '/usr/sbin/dockerd', '/usr/bin/docker', '/usr/bin/podman', '/usr/bin/conmon', '/usr/bin/script', '/usr/sbin/runc'];

/**
 * Paths outside the scratch directory that the engines create whatever they
 * are told: containerd's shim sockets (/run/containerd/s), dockerd's plugin
 * directory, podman's blob cache and network directory. Those that did not
 * exist before the run are removed after it (when empty of anything else).
 */
const ENGINE_LITTER = ['/run/containerd/s', '/run/containerd', '/run/docker/plugins', '/run/docker', '/var/lib/containers/cache', '/var/lib/containers', '/run/containers/networks', '/run/containers'];

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * An image archive made by hand from a directory: one layer tar, and per
 * image an OCI config and manifest, all named by their sha256, and an index
 * (an OCI image layout, for `ctr images import` and `podman load`), plus
 * Docker's manifest.json (Docker 20.10's `docker load` reads only that).
 * Two images share the layer: IMAGE (default command sh) and PAUSE_IMAGE,
 * whose default command sleeps (a CRI pod sandbox's "pause" container).
 */
export function buildImage(rootfs: string, dir: string, out: string): void {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const layerTmp = join(dir, 'layer.tar');
  execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-C', rootfs, '-cf', layerTmp, '.']);
  const layer = readFileSync(layerTmp);
  const layerDigest = sha256(layer);
  renameSync(layerTmp, join(blobs, layerDigest));
  const blob = (s: string) => {
    const d = sha256(s);
    writeFileSync(join(blobs, d), s);
    return { digest: `sha256:${d}`, size: Buffer.byteLength(s) };
  };
  const index: unknown[] = [];
  const dockerManifest: unknown[] = [];
  for (const [name, cmd] of [
    [IMAGE, ['sh']],
    [PAUSE_IMAGE, ['sleep', '2147483647']],
  ] as const) {
    const config = blob(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        created: '1970-01-01T00:00:00Z',
        config: { Env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: cmd, WorkingDir: '/' },
        rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
        history: [{ created: '1970-01-01T00:00:00Z', created_by: 'tsrunc e2e: busybox-static rootfs' }],
      }),
    );
    const manifest = blob(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${layerDigest}`, size: layer.length }],
      }),
    );
    index.push({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      ...manifest,
      annotations: { 'io.containerd.image.name': `docker.io/${name}`, 'org.opencontainers.image.ref.name': name.split(':')[1] },
    });
    dockerManifest.push({ Config: `blobs/sha256/${config.digest.slice(7)}`, RepoTags: [name], Layers: [`blobs/sha256/${layerDigest}`] });
  }
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: index }));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(dockerManifest));
  execFileSync('tar', ['-C', dir, '-cf', out, 'oci-layout', 'index.json', 'manifest.json', 'blobs']);
}

function runtimeRootEntries(): Set<string> {
  const roots = ['/run/tsrunc', '/run/runc'];
  const s = new Set<string>();
  for (const r of roots) if (existsSync(r)) for (const e of readdirSync(r)) s.add(join(r, e));
  return s;
}

/** The cgroups two levels or more below the root of the pids hierarchy (v1) or of cgroup2: where engines put containers. */
function containerCgroups(): Set<string> {
  const base = existsSync('/sys/fs/cgroup/pids/cgroup.procs') ? '/sys/fs/cgroup/pids' : '/sys/fs/cgroup';
  const r = spawnSync('find', [base, '-mindepth', '2', '-maxdepth', '4', '-type', 'd'], { encoding: 'utf8' });
  return new Set((r.stdout ?? '').split('\n').filter(Boolean));
}

function empty(cgroup: string): boolean {
  try {
    return readFileSync(join(cgroup, 'cgroup.procs'), 'utf8').trim() === '';
  } catch {
    return false; // removed meanwhile
  }
}

function findFiles(dir: string, name: string): string[] {
  const r = spawnSync('find', [dir, '-name', name, '-type', 'f'], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n').filter(Boolean);
}

export default function setup(project: TestProject) {
  if (process.getuid?.() !== 0) throw new Error('the e2e suite starts containerd, dockerd and podman: run it as root');
  try {
    accessSync(RUNTIME, constants.X_OK);
  } catch {
    throw new Error(`E2E_RUNTIME ${RUNTIME} is not an executable (build tsrunc with \`npm run build\`, or point E2E_RUNTIME at a runtime)`);
  }
  const missing = TOOLS.filter((t) => !existsSync(t));
  if (missing.length) throw new Error(`the engines are not installed (${missing.join(', ')}): apt-get install containerd docker.io podman conmon runc bsdutils`);

  const litterBefore = new Set(ENGINE_LITTER.filter((p) => existsSync(p)));
  const shimSocketsBefore = new Set(existsSync('/run/containerd/s') ? readdirSync('/run/containerd/s') : []);
  const rootEntriesBefore = runtimeRootEntries();
  const cgroupsBefore = containerCgroups();

  const work = mkdtempSync('/tmp/tsrunc-e2e-');
  // Traversable: engines hand bundles and mounts under it to the runtime.
  chmodSync(work, 0o711);
  const rootfs = join(work, 'rootfs');
  execFileSync(join(repo, 'bundles', 'make-rootfs.sh'), [rootfs], { stdio: 'ignore' });
  // Like Debian's images: /etc/localtime is a symlink into the zone files (engines bind the host's over it).
  mkdirSync(join(rootfs, 'usr', 'share', 'zoneinfo'), { recursive: true });
  writeFileSync(join(rootfs, 'usr', 'share', 'zoneinfo', 'UTC'), 'the image\'s zone file\n');
  symlinkSync('/usr/share/zoneinfo/UTC', join(rootfs, 'etc', 'localtime'));
  buildImage(rootfs, join(work, 'image'), join(work, 'image.tar'));
  execFileSync('tar', ['--owner=0', '--group=0', '--numeric-owner', '-C', rootfs, '-cf', join(work, 'rootfs.tar'), '.']);
  process.stdout.write(`e2e: runtime ${RUNTIME}, scratch ${work}\n`);
  project.provide('e2eWork', work);

  return () => {
    const leaks: string[] = [];
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(work));
    if (mounts.length) leaks.push(`${mounts.length} mounts under ${work}:\n  ${mounts.join('\n  ')}`);
    const procs = processesMentioning(work).map((p) => `${p.pid} ${p.args}`);
    if (procs.length) leaks.push(`processes:\n  ${procs.join('\n  ')}`);
    const sockets = existsSync('/run/containerd/s') ? readdirSync('/run/containerd/s').filter((s) => !shimSocketsBefore.has(s)) : [];
    if (sockets.length) leaks.push(`containerd shim sockets in /run/containerd/s: ${sockets.join(' ')}`);
    // podman calls the runtime without --root: its containers' state is in the runtime's default root, named by 64-hex ids.
    const entries = [...runtimeRootEntries()].filter((e) => !rootEntriesBefore.has(e) && /\/[0-9a-f]{64}$/.test(e));
    if (entries.length) leaks.push(`runtime state left by podman: ${entries.join(' ')}`);
    // containerd's and Docker's containers keep their runtime state under the scratch directory (the --root the shims pass).
    const states = findFiles(work, 'state.json').map((f) => f.slice(0, -'/state.json'.length));
    if (states.length) leaks.push(`containers whose runtime state is left:\n  ${states.join('\n  ')}`);
    // Container cgroups (/<namespace>/<id>, /docker/<id>, /libpod_parent/libpod-<id>) made during the run and
    // still there, with no process in them (a live one with processes may be another run's container).
    const cgroups = [...containerCgroups()].filter((d) => !cgroupsBefore.has(d) && empty(d));
    if (cgroups.length) leaks.push(`container cgroups left:\n  ${cgroups.join('\n  ')}`);
    if (!mounts.length) rmSync(work, { recursive: true, force: true });
    for (const p of ENGINE_LITTER) {
      if (litterBefore.has(p) || !existsSync(p)) continue;
      try {
        if (p === '/var/lib/containers/cache') rmSync(p, { recursive: true, force: true });
        else if (statSync(p).isDirectory()) rmdirSync(p);
      } catch {
        /* not empty: someone else's */
      }
    }
    if (leaks.length) throw new Error(`the e2e suite left things behind:\n${leaks.join('\n')}`);
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    e2eWork: string;
  }
}
