/**
 * containerd 1.6 (ctr, containerd-shim-runc-v2) with RUNTIME plugged in by
 * `ctr run --runc-binary` (the shim's options.BinaryName). The config.toml
 * runtime entry with options.BinaryName is used by the CRI plugin only (ctr
 * 1.6 has no way to pick a configured runtime): the CRI tests at the end
 * drive it as the kubelet would, through the runtime handler "tsrunc".
 * ctr 1.6 has no `task update` and never closes a task's stdin: update and
 * stdin are tested through Docker and podman.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { hostNetworkUndo } from './cni';
import { ContainerState, CriClient } from './cri';
import { CRI_BRIDGE, Containerd } from './engines';
import { IMAGE, RUNTIME, RUNTIME_NAME, sleep, alive, catches, cgroupDir, childrenOf, commOf, cpuShares, memoryLimit, frozen, median, mountsUnder, onTerminal, ppidOf, processesMentioning, runtimeIds, scratch, show, start, waitFor } from './lib';

const IMG = `docker.io/${IMAGE}`;
const ctd = new Containerd(scratch('containerd'));
let n = 0;
const newId = () => `e2e-ctr-${process.pid}-${++n}`;

beforeAll(async () => {
  await ctd.start();
  await ctd.importImage();
});

afterEach(async () => {
  await ctd.clean();
});

afterAll(async () => {
  await ctd.stop();
});

const ctrRun = (id: string, cmd: string[], flags: string[] = [], timeoutMs?: number) => ctd.ctr(['run', ...ctd.runFlags(), ...flags, IMG, id, ...cmd], { timeoutMs });

async function runDetached(id: string, cmd: string[] = ['sleep', '1000'], flags: string[] = []): Promise<number> {
  const r = await ctrRun(id, cmd, ['-d', ...flags]);
  expect(r.code, show(r)).toBe(0);
  const t = (await ctd.tasks()).get(id);
  expect(t?.status, `task ${id}: ${JSON.stringify(t)}\n${ctd.logTail()}`).toBe('RUNNING');
  return t!.pid;
}

/** `ctr task ps`: the host pids of the container's processes (the shim asks the runtime's `ps`). */
async function taskPids(id: string): Promise<number[]> {
  const r = await ctd.ctr(['task', 'ps', id]);
  expect(r.code, show(r)).toBe(0);
  return r.stdout.trim().split('\n').slice(1).map((l) => Number(l.trim().split(/\s+/)[0]));
}

/** Nothing of id is left: no task, no container, no runtime state, no mount, no shim. */
async function expectNoTrace(id: string): Promise<void> {
  expect((await ctd.tasks()).has(id)).toBe(false);
  expect(await ctd.containers()).not.toContain(id);
  expect(await runtimeIds(join(ctd.runtimeRoot, 'default'))).not.toContain(id);
  expect(mountsUnder(ctd.dir).filter((m) => m.includes(id))).toEqual([]);
  await waitFor(`the shim of ${id} to exit`, () => processesMentioning(`-id ${id} `).length === 0, 5_000);
}

describe('containerd (ctr --runc-binary)', () => {
  test('run --rm: stdout, exit codes 0 and 3, nothing left', async () => {
    const a = newId();
    const r = await ctrRun(a, ['sh', '-c', 'echo hello from $(cat /proc/1/comm)'], ['--rm']);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toBe('hello from sh\n');
    await expectNoTrace(a);
    const b = newId();
    const r3 = await ctrRun(b, ['sh', '-c', 'echo out; echo err >&2; exit 3'], ['--rm']);
    expect(r3.code, show(r3)).toBe(3);
    expect(r3.stdout).toBe('out\n');
    expect(r3.stderr).toContain('err\n');
    await expectNoTrace(b);
  });

  test('killed → 137 (`ctr task kill -s SIGKILL` of a foreground ctr run)', async () => {
    const id = newId();
    const fg = start('/usr/bin/ctr', ['-a', ctd.sock, 'run', '--rm', ...ctd.runFlags(), IMG, id, 'sleep', '1000']);
    await waitFor(`${id} to run`, async () => (await ctd.tasks()).get(id)?.status === 'RUNNING');
    const k = await ctd.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
    expect(k.code, show(k)).toBe(0);
    const f = await fg.result;
    expect(f.code, show(f)).toBe(137);
    await expectNoTrace(id);
  });

  test('tty: ctr run -t on a terminal', async () => {
    const id = newId();
    const r = await onTerminal(['/usr/bin/ctr', '-a', ctd.sock, 'run', '--rm', '-t', ...ctd.runFlags(), IMG, id, 'sh', '-c', 'tty; [ -t 0 ] && echo stdin-is-a-tty; exit 3'], { timeoutMs: 30_000 });
    expect(r.stdout, show(r)).toMatch(/\/dev\/pts\/0\r*\n/);
    expect(r.stdout).toContain('stdin-is-a-tty');
    expect(r.code, show(r)).toBe(3);
    await expectNoTrace(id);
  });

  test('detached: task ls, the container is a child of the shim, the runtime state agrees', async () => {
    const id = newId();
    const pid = await runDetached(id);
    expect(alive(pid)).toBe(true);
    // The runtime must not leave a process between the shim and the container.
    expect(commOf(ppidOf(pid))).toMatch(/^containerd-shim/);
    expect(commOf(pid)).toBe('sleep');
    const info = await ctd.ctr(['task', 'ls']);
    expect(info.stdout).toMatch(new RegExp(`${id}\\s+${pid}\\s+RUNNING`));
  });

  test('task ps (runtime ps)', async () => {
    const id = newId();
    const pid = await runDetached(id);
    expect(await taskPids(id)).toEqual([pid]);
    const d = await ctd.ctr(['task', 'exec', '-d', '--fifo-dir', ctd.fifoDir, '--exec-id', 'e1', id, 'sleep', '999']);
    expect(d.code, show(d)).toBe(0);
    const pids = await taskPids(id);
    expect(pids.length).toBe(2);
    expect(pids).toContain(pid);
  });

  test('exec: exit code, stdout, stderr, -t, detached', async () => {
    const id = newId();
    const pid = await runDetached(id);
    const r = await ctd.ctr(['task', 'exec', '--fifo-dir', ctd.fifoDir, '--exec-id', 'e1', id, 'sh', '-c', 'echo in $(cat /proc/1/comm); echo oops >&2; exit 4']);
    expect(r.code, show(r)).toBe(4);
    expect(r.stdout).toBe('in sleep\n');
    expect(r.stderr).toContain('oops');
    const t = await onTerminal(['/usr/bin/ctr', '-a', ctd.sock, 'task', 'exec', '-t', '--fifo-dir', ctd.fifoDir, '--exec-id', 'e2', id, 'sh', '-c', 'tty; exit 5'], { timeoutMs: 30_000 });
    expect(t.stdout, show(t)).toMatch(/\/dev\/pts\/\d+/);
    expect(t.code, show(t)).toBe(5);
    const d = await ctd.ctr(['task', 'exec', '-d', '--fifo-dir', ctd.fifoDir, '--exec-id', 'e3', id, 'sleep', '999']);
    expect(d.code, show(d)).toBe(0);
    // The exec'd process is, like the container's first process, a child of the shim.
    const others = childrenOf(ppidOf(pid)).filter((p) => p !== pid);
    expect(others.map(commOf)).toEqual(['sleep']);
  });

  test('pause and resume freeze and thaw the cgroup', async () => {
    const id = newId();
    const pid = await runDetached(id);
    const p = await ctd.ctr(['task', 'pause', id]);
    expect(p.code, show(p)).toBe(0);
    expect((await ctd.tasks()).get(id)?.status).toBe('PAUSED');
    expect(frozen(pid)).toBe(true);
    const r = await ctd.ctr(['task', 'resume', id]);
    expect(r.code, show(r)).toBe(0);
    expect((await ctd.tasks()).get(id)?.status).toBe('RUNNING');
    expect(frozen(pid)).toBe(false);
  });

  test('kill with a signal reaches the container process', async () => {
    const id = newId();
    const fg = start('/usr/bin/ctr', ['-a', ctd.sock, 'run', '--rm', ...ctd.runFlags(), IMG, id, 'sh', '-c', 'trap "exit 7" USR1; while :; do sleep 0.1; done']);
    let pid = 0;
    await waitFor(`${id} to trap USR1`, async () => {
      pid = (await ctd.tasks()).get(id)?.pid ?? 0;
      return pid > 0 && catches(pid, 10);
    });
    const k = await ctd.ctr(['task', 'kill', '-s', 'SIGUSR1', id]);
    expect(k.code, show(k)).toBe(0);
    const f = await fg.result;
    expect(f.code, show(f)).toBe(7);
  });

  test('stop: SIGTERM is ignored by sleep as pid 1, then SIGKILL → 137', async () => {
    const id = newId();
    const fg = start('/usr/bin/ctr', ['-a', ctd.sock, 'run', '--rm', ...ctd.runFlags(), IMG, id, 'sleep', '1000']);
    await waitFor(`${id} to run`, async () => (await ctd.tasks()).get(id)?.status === 'RUNNING');
    const term = await ctd.ctr(['task', 'kill', id]);
    expect(term.code, show(term)).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    expect((await ctd.tasks()).get(id)?.status).toBe('RUNNING');
    await ctd.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
    const f = await fg.result;
    expect(f.code, show(f)).toBe(137);
  });

  test('kill --all signals every process of the container', async () => {
    const id = newId();
    const pid = await runDetached(id);
    const d = await ctd.ctr(['task', 'exec', '-d', '--fifo-dir', ctd.fifoDir, '--exec-id', 'bg', id, 'sleep', '999']);
    expect(d.code, show(d)).toBe(0);
    const pids = childrenOf(ppidOf(pid));
    expect(pids.length).toBe(2);
    const k = await ctd.ctr(['task', 'kill', '--all', '-s', 'SIGKILL', id]);
    expect(k.code, show(k)).toBe(0);
    await waitFor('every process to die', () => pids.every((p) => !alive(p)));
    await waitFor(`${id} to stop`, async () => (await ctd.tasks()).get(id)?.status === 'STOPPED');
    expect(alive(pid)).toBe(false);
  });

  test('restart: a new task for a container whose task ended', async () => {
    const id = newId();
    const pid1 = await runDetached(id);
    await ctd.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
    await waitFor(`${id} to stop`, async () => (await ctd.tasks()).get(id)?.status === 'STOPPED');
    const del = await ctd.ctr(['task', 'delete', id]);
    expect(del.code, show(del)).toBe(0);
    const s = await ctd.ctr(['task', 'start', '-d', '--fifo-dir', ctd.fifoDir, id]);
    expect(s.code, show(s)).toBe(0);
    const t = (await ctd.tasks()).get(id);
    expect(t?.status).toBe('RUNNING');
    expect(t?.pid).not.toBe(pid1);
    expect(commOf(t!.pid)).toBe('sleep');
  });

  test("a bad mount: ctr shows the runtime's message, nothing is left", async () => {
    const id = newId();
    const r = await ctrRun(id, ['true'], ['--rm', '--mount', 'type=bind,src=/nonexistent-e2e-source,dst=/mnt/x,options=rbind:ro']);
    expect(r.code, show(r)).not.toBe(0);
    expect(r.stderr).toMatch(/OCI runtime create failed/);
    expect(r.stderr).toContain('nonexistent-e2e-source');
    await expectNoTrace(id);
  });

  test("a missing binary: ctr shows the runtime's message, nothing is left", async () => {
    const id = newId();
    const r = await ctrRun(id, ['/no/such/binary'], ['--rm']);
    expect(r.code, show(r)).not.toBe(0);
    expect(r.stderr).toMatch(/OCI runtime (create|start) failed/);
    expect(r.stderr).toContain('/no/such/binary');
    await expectNoTrace(id);
  });

  test('ten containers started concurrently all run and are all cleaned up', async () => {
    const ids = Array.from({ length: 10 }, () => newId());
    const rs = await Promise.all(ids.map((id) => ctrRun(id, ['sleep', '1000'], ['-d'], 60_000)));
    rs.forEach((r) => expect(r.code, show(r)).toBe(0));
    const tasks = await ctd.tasks();
    const pids = ids.map((id) => {
      expect(tasks.get(id)?.status, id).toBe('RUNNING');
      return tasks.get(id)!.pid;
    });
    expect(new Set(pids).size).toBe(10);
    expect((await runtimeIds(join(ctd.runtimeRoot, 'default'))).sort()).toEqual([...ids].sort());
    await Promise.all(ids.map((id) => ctd.ctr(['task', 'kill', '-s', 'SIGKILL', id])));
    await waitFor('all to stop', async () => {
      const t = await ctd.tasks();
      return ids.every((id) => t.get(id)?.status === 'STOPPED');
    });
    const ds = await Promise.all(ids.map((id) => ctd.ctr(['task', 'delete', id])));
    ds.forEach((r) => expect(r.code, show(r)).toBe(0));
    const cs = await Promise.all(ids.map((id) => ctd.ctr(['containers', 'delete', id])));
    cs.forEach((r) => expect(r.code, show(r)).toBe(0));
    for (const id of ids) await expectNoTrace(id);
    expect(await runtimeIds(join(ctd.runtimeRoot, 'default'))).toEqual([]);
    pids.forEach((p) => expect(alive(p)).toBe(false));
  });

  test('ctr run --rm wall time, this runtime and runc (median of 10)', async () => {
    const once = async (binary: string): Promise<number> => {
      const t0 = process.hrtime.bigint();
      const r = await ctd.ctr(['run', '--rm', '--fifo-dir', ctd.fifoDir, '--runc-binary', binary, '--runc-root', ctd.runtimeRoot, IMG, newId(), 'true']);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      expect(r.code, show(r)).toBe(0);
      return ms;
    };
    // One run each to warm up (the page cache), then alternate so that drift hits both alike.
    await once(RUNTIME);
    await once('/usr/sbin/runc');
    const mine: number[] = [];
    const runc: number[] = [];
    for (let i = 0; i < 10; i++) {
      mine.push(await once(RUNTIME));
      runc.push(await once('/usr/sbin/runc'));
    }
    process.stdout.write(`\nctr run --rm true, median of 10: ${RUNTIME} ${median(mine).toFixed(0)} ms, /usr/sbin/runc ${median(runc).toFixed(0)} ms\n`);
  });
});

describe('containerd CRI (config.toml runtime "tsrunc", options.BinaryName)', () => {
  const cri = new CriClient(ctd.sock);

  beforeAll(async () => {
    // CRI's images live in the k8s.io namespace.
    await ctd.importImage('k8s.io');
  });

  /** Runs fn with a pod (hostNetwork unless network is "pod") whose sandbox runs through the runtime handler; the pod is removed afterwards. */
  async function withPod(name: string, fn: (podId: string, podConfig: ReturnType<CriClient['podConfig']>, logDir: string) => Promise<void>, network: 'node' | 'pod' = 'node') {
    const logDir = join(ctd.dir, 'pods', name);
    mkdirSync(logDir, { recursive: true });
    const podConfig = cri.podConfig(name, `uid-${name}`, logDir, network);
    const podId = await cri.runPodSandbox(podConfig, RUNTIME_NAME);
    try {
      await fn(podId, podConfig, logDir);
    } finally {
      await cri.stopPodSandbox(podId);
      await cri.removePodSandbox(podId);
    }
    // Sandbox and containers are gone from the runtime handler's root.
    expect(await runtimeIds(join(ctd.criRuntimeRoot, 'k8s.io'))).toEqual([]);
  }

  test('a pod runs through the handler: the sandbox and a container are in its Root, exit code and log reach CRI', async () => {
    await withPod(`pod-${process.pid}-1`, async (podId, podConfig, logDir) => {
      // The sandbox was created by RUNTIME with the entry's Root: it is in the runtime's own list there.
      expect(await runtimeIds(join(ctd.criRuntimeRoot, 'k8s.io'))).toContain(podId);
      const id = await cri.createContainer(podId, podConfig, 'c1', `docker.io/${IMAGE}`, ['sh', '-c', 'echo hello from cri; exit 3'], 'c1.log');
      await cri.startContainer(id);
      let st = await cri.containerStatus(id);
      for (let i = 0; i < 200 && st.state !== ContainerState.EXITED; i++) {
        await sleep(50);
        st = await cri.containerStatus(id);
      }
      expect(st.state, JSON.stringify(st)).toBe(ContainerState.EXITED);
      expect(st.exitCode).toBe(3);
      expect(readFileSync(join(logDir, 'c1.log'), 'utf8')).toMatch(/ stdout F hello from cri\n/);
    });
  });

  test('UpdateContainerResources: memory and cpu shares', async () => {
    await withPod(`pod-${process.pid}-3`, async (podId, podConfig) => {
      const id = await cri.createContainer(podId, podConfig, 'c3', `docker.io/${IMAGE}`, ['sleep', '1000'], 'c3.log');
      await cri.startContainer(id);
      const pid = (await ctd.tasks('k8s.io')).get(id)!.pid;
      await cri.updateContainerResources(id, { memoryLimitInBytes: 64 << 20, cpuShares: 512 });
      expect(memoryLimit(pid)).toBe(String(64 << 20));
      expect(cpuShares(pid)).toBe(cgroupDir(pid, 'cpu').v2 ? '20' : '512');
    });
  });

  test('ExecSync into a running container of the pod', async () => {
    await withPod(`pod-${process.pid}-2`, async (podId, podConfig) => {
      const id = await cri.createContainer(podId, podConfig, 'c2', `docker.io/${IMAGE}`, ['sleep', '1000'], 'c2.log');
      await cri.startContainer(id);
      expect((await cri.containerStatus(id)).state).toBe(ContainerState.RUNNING);
      const r = await cri.execSync(id, ['sh', '-c', 'echo exec out; exit 2']);
      expect(r).toEqual({ stdout: 'exec out\n', stderr: '', exitCode: 2 });
    });
  });

  test('a pod network: the sandbox joins the CNI netns by its /var/run/netns path; lo is up, eth0 has the pod address', async () => {
    const undo = hostNetworkUndo(CRI_BRIDGE);
    try {
      await withPod(`pod-${process.pid}-4`, async (podId, podConfig) => {
        // What the kubelet's runtime got: the network namespace as a bind-mounted path, as CNI makes it.
        const bundle = JSON.parse(readFileSync(join(ctd.dir, 'state', 'io.containerd.runtime.v2.task', 'k8s.io', podId, 'config.json'), 'utf8'));
        const netns = bundle.linux.namespaces.find((n: { type: string }) => n.type === 'network')?.path ?? '';
        expect(netns).toMatch(/^\/var\/run\/netns\/cni-/);
        const id = await cri.createContainer(podId, podConfig, 'web', `docker.io/${IMAGE}`,
          ['sh', '-c', 'echo ok > /tmp/index.html; exec httpd -f -p 127.0.0.1:8080 -h /tmp'], 'web.log');
        await cri.startContainer(id);
        const addr = await cri.execSync(id, ['sh', '-c', 'ip -o -4 addr show eth0 | grep -o "inet [0-9.]*"; readlink /proc/self/ns/net']);
        expect(addr.exitCode, addr.stderr).toBe(0);
        const [inet, ns] = addr.stdout.trim().split('\n');
        expect(inet).toMatch(/^inet 10\.89\.77\./);
        expect(ns).toBe(`net:[${statSync(netns).ino}]`);
        // A liveness probe on localhost, as a kubelet exec probe runs it.
        let probe = await cri.execSync(id, ['wget', '-q', '-O', '-', 'http://127.0.0.1:8080/']);
        for (let i = 0; i < 20 && probe.exitCode !== 0; i++) {
          await sleep(250);
          probe = await cri.execSync(id, ['wget', '-q', '-O', '-', 'http://127.0.0.1:8080/']);
        }
        expect(probe).toEqual({ stdout: 'ok\n', stderr: '', exitCode: 0 });
      }, 'pod');
    } finally {
      await undo();
    }
  });
});
