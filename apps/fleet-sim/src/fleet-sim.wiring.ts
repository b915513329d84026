import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { findBpftool, runProcess } from '@ioplane/compiler';
import type { MachineTopology } from '@ioplane/devices';

const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
const find = (...paths: string[]): string => paths.find((p) => existsSync(p)) ?? paths[0].split('/').pop()!;
const IP = find('/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip');
const BRIDGE = find('/usr/sbin/bridge', '/sbin/bridge', '/usr/bin/bridge');

async function run(cmd: string, args: string[], allowFail = false): Promise<string> {
  const r = await runProcess(cmd, args, { timeoutMs: 20_000, env: ENV });
  if (r.code !== 0 && !allowFail) throw new Error(`${cmd.split('/').pop()} ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout;
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

const u32 = (n: number): string[] => [0, 1, 2, 3].map((i) => String((n >>> (8 * i)) & 0xff));

/**
 * Swaps the first two slots of the tail-call chain running on a host port, behind the agent's
 * back, as corrupted device state would: the chain's modules then run in the wrong order while
 * everything the agent wrote down still says otherwise. `agentPins` is the agent's bpffs folder.
 */
export async function swapChainSlots(t: MachineTopology, iface: string, agentPins: string): Promise<void> {
  const bpftool = findBpftool();
  if (!bpftool) throw new Error('bpftool is not installed');
  const netdev = portOf(t, iface).netdev;
  const [link] = JSON.parse(await run(IP, ['-n', t.hostNetns, '-j', 'link', 'show', 'dev', netdev])) as {
    xdp?: { prog?: { id: number } };
  }[];
  const running = link?.xdp?.prog?.id;
  if (!running) throw new Error(`${t.hostname}: nothing runs on ${iface}`);
  for (const dev of await fsp.readdir(agentPins).catch(() => [] as string[])) {
    for (const port of await fsp.readdir(join(agentPins, dev)).catch(() => [] as string[])) {
      const chains = join(agentPins, dev, port, 'chains');
      for (const c of await fsp.readdir(chains).catch(() => [] as string[])) {
        const root = JSON.parse((await run(bpftool, ['prog', 'show', 'pinned', join(chains, c, 'root'), '-j'], true)) || '{}') as {
          id?: number;
        };
        if (root.id !== running) continue;
        const progs = join(chains, c, 'progs');
        const slots = (JSON.parse(await run(bpftool, ['map', 'dump', 'pinned', progs, '-j'])) as { key: string[]; value: string[] }[])
          .map((e) => ({
            key: e.key.reduce((n, b, i) => n + parseInt(b, 16) * 2 ** (8 * i), 0),
            id: e.value.reduce((n, b, i) => n + parseInt(b, 16) * 2 ** (8 * i), 0),
          }))
          .sort((a, b) => a.key - b.key);
        if (slots.length < 2) throw new Error(`${t.hostname}: the chain on ${iface} has ${slots.length} slot(s), nothing to swap`);
        await run(bpftool, ['map', 'update', 'pinned', progs, 'key', ...u32(slots[0].key), 'value', 'id', String(slots[1].id)]);
        await run(bpftool, ['map', 'update', 'pinned', progs, 'key', ...u32(slots[1].key), 'value', 'id', String(slots[0].id)]);
        return;
      }
    }
  }
  throw new Error(`${t.hostname}: the program on ${iface} is no tail-call chain of this agent`);
}
