import { existsSync } from 'node:fs';
import { runProcess } from '@ioplane/compiler';
import type { MachineTopology } from '@ioplane/devices';

const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
const find = (...paths: string[]): string => paths.find((p) => existsSync(p)) ?? paths[0].split('/').pop()!;
const IP = find('/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip');
const BRIDGE = find('/usr/sbin/bridge', '/sbin/bridge', '/usr/bin/bridge');

async function run(cmd: string, args: string[], allowFail = false): Promise<void> {
  const r = await runProcess(cmd, args, { timeoutMs: 20_000, env: ENV });
  if (r.code !== 0 && !allowFail) throw new Error(`${cmd.split('/').pop()} ${args.join(' ')} failed: ${r.stderr.trim()}`);
}

function portOf(t: MachineTopology, iface: string) {
  const p = t.ports.find((x) => x.interface === iface);
  if (!p) throw new Error(`${t.hostname} has no port ${iface} (ports: ${t.ports.map((x) => x.interface).join(', ')})`);
  return p;
}

/**
 * Faults of an emulated machine's hardware and cabling, injected by the simulator on the
 * namespaces it owns: the agent (the production program) is not told and must find them out
 * through its health checks, as on a real host.
 */

/**
 * Swaps the cables of two host ports: the netdev named `a` now ends the path of `b`'s wire and
 * the other way round (names swapped in the host namespace; addresses and neighbours follow the
 * netdevs). What the agent attaches to `a` no longer sees what arrives at `a`'s wire.
 */
export async function swapCables(t: MachineTopology, a: string, b: string): Promise<void> {
  const [pa, pb] = [portOf(t, a), portOf(t, b)];
  const ns = t.hostNetns;
  const tmp = `x${pa.netdev}`.slice(0, 15);
  for (const d of [pa.netdev, pb.netdev]) await run(IP, ['-n', ns, 'link', 'set', 'dev', d, 'down']);
  await run(IP, ['-n', ns, 'link', 'set', 'dev', pa.netdev, 'name', tmp]);
  await run(IP, ['-n', ns, 'link', 'set', 'dev', pb.netdev, 'name', pa.netdev]);
  await run(IP, ['-n', ns, 'link', 'set', 'dev', tmp, 'name', pb.netdev]);
  for (const d of [pa.netdev, pb.netdev]) await run(IP, ['-n', ns, 'link', 'set', 'dev', d, 'up']);
}

/**
 * Makes the port's NIC stage (or DPU) drop every packet it should pass on to the host, as wrong
 * forwarding rules in a card's switch would: the stage's XDP still sees the packets, nothing behind
 * the stage does. Done by disabling the stage bridge's port toward the host (this kernel may lack
 * tc's flower and gact, so no tc rule is assumed).
 */
export async function dropAtStage(t: MachineTopology, iface: string, stage: 'nic' | 'dpu'): Promise<void> {
  const hop = portOf(t, iface).hops.find((h) => h.kind === stage);
  if (!hop?.egress) throw new Error(`${t.hostname}: port ${iface} has no ${stage} stage`);
  await run(BRIDGE, ['-n', hop.netns, 'link', 'set', 'dev', hop.egress, 'state', '0']);
}
