import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A private D-Bus message bus for a test: the reference dbus-daemon with a
 * config of our own (a socket in a temp dir, EXTERNAL auth, everything
 * allowed), so the client is tested against the real daemon and never
 * against the host's buses. Installs Debian's dbus-daemon package when the
 * program is missing (needs root and apt).
 */
export interface TestBus {
  address: string;
  socketPath: string;
  stop(): Promise<void>;
}

export function ensureDbusDaemon(): void {
  if (which('dbus-daemon')) return;
  if (process.getuid?.() !== 0) throw new Error('dbus-daemon is missing: install the dbus-daemon package (apt-get install dbus-daemon)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'dbus-daemon'], { stdio: 'ignore', env });
  } catch {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'dbus-daemon'], { stdio: 'ignore', env });
  }
  if (!which('dbus-daemon')) throw new Error('dbus-daemon is still missing after apt-get install dbus-daemon');
}

function which(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function startTestBus(): Promise<TestBus> {
  ensureDbusDaemon();
  const dir = mkdtempSync(join(tmpdir(), 'tsrunc-dbus-'));
  const socketPath = join(dir, 'bus');
  const config = join(dir, 'bus.conf');
  writeFileSync(config, `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${socketPath}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`);
  const child: ChildProcess = spawn('dbus-daemon', [`--config-file=${config}`, '--nofork', '--print-address'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`dbus-daemon did not start: ${err}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(line.trim());
      }
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`dbus-daemon exited (${code}): ${err}`));
    });
  });
  return {
    address,
    socketPath,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
