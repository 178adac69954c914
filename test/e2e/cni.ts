/**
 * Real container networks for the e2e suite (podman's default network, a
 * CRI pod network): both use the CNI plugins of Debian's
 * containernetworking-plugins (/usr/lib/cni). They leave a bridge and the
 * firewall plugin's iptables chains on the host; hostNetworkUndo removes
 * what was not there before.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './lib';

export const CNI_PLUGINS = '/usr/lib/cni';

const linkExists = (name: string) => existsSync(`/sys/class/net/${name}`);
const chainExists = (chain: string) => {
  try {
    execFileSync('iptables', ['-n', '-L', chain], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** Notes which of the bridge and the CNI firewall chains exist now; the returned function removes the ones made since. */
export function hostNetworkUndo(bridge: string): () => Promise<void> {
  const hadBridge = linkExists(bridge);
  const hadChains = chainExists('CNI-FORWARD');
  return async () => {
    if (!hadBridge && linkExists(bridge)) await run('ip', ['link', 'del', bridge]);
    if (!hadChains && chainExists('CNI-FORWARD')) {
      await run('iptables', ['-D', 'FORWARD', '-m', 'comment', '--comment', 'CNI firewall plugin rules', '-j', 'CNI-FORWARD']);
      for (const chain of ['CNI-FORWARD', 'CNI-ADMIN']) {
        await run('iptables', ['-F', chain]);
        await run('iptables', ['-X', chain]);
      }
    }
  };
}

/**
 * A CNI setup as a kubelet node has it: the plugins in binDir (links to
 * Debian's), and in confDir one bridge network with host-local addresses
 * (no masquerading, no port mapping: the suite needs no way out).
 */
export function writeCniConfig(binDir: string, confDir: string, ipamDir: string, bridge: string, subnet: string): void {
  mkdirSync(binDir, { recursive: true });
  mkdirSync(confDir, { recursive: true });
  for (const p of ['bridge', 'host-local', 'loopback']) if (!existsSync(join(binDir, p))) symlinkSync(join(CNI_PLUGINS, p), join(binDir, p));
  writeFileSync(join(confDir, '10-e2e.conflist'), JSON.stringify({
    cniVersion: '0.4.0',
    name: 'e2e',
    plugins: [{ type: 'bridge', bridge, isGateway: true, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet }]], dataDir: ipamDir } }],
  }, null, 2));
}
