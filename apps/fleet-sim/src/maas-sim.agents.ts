import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { hostXdpDeviceId, type Device, type FirmwareProfile, type Machine } from '@ioplane/domain';
import { agentToken } from '@ioplane/agent-api';
import { bpffsRoot, removeLeftovers, removeMachine, type MachineTopology } from '@ioplane/devices';
import { toMachine, type RawMachine, type RawPciDevice } from '@ioplane/maas';
import { detectDevices, loadProfiles } from '@ioplane/profiles';
import { createLogger } from '@ioplane/runtime';
import { startAgent, type RunningAgent } from '../../agent/src';
import { addMgmtLink, mgmtAddresses, mgmtLinkName, startAgentProcess, type MgmtAddress } from './fleet-sim.process';
import { buildMachineNet, type SimMachineNet } from './fleet-sim.topology';
import { dropAtStage, swapCables, swapChainSlots } from './fleet-sim.wiring';
import { renderDevices, renderMachine } from './maas-sim.render';
import type { MaasSimStore, SimMachine } from './maas-sim.store';

export interface SimAgentOptions {
  /** ed25519 public key (SPKI PEM) every agent verifies artifacts with. */
  publicKeyPem: string;
  /** Each host's bearer token is agentToken(tokenSecret, systemId). */
  tokenSecret: string;
  /**
   * One port shared by every host address, as in production. Default 9440. 0: the first agent
   * binds a free port on its address and every other agent takes the same number (another
   * process could hold that port on another 127.77.x.y address; unlikely, and startup then
   * fails clearly).
   */
  port?: number;
  /** Multiplies device times (flash, activation). Default: the simulator's timeScale. */
  timeScale?: number;
  /** 'auto': host XDP runs in the real kernel when allowed (root, bpffs, bpftool). Default 'auto'. */
  kernel?: 'auto' | 'off';
  /**
   * Prefix of agent ids (`<instanceId>-<systemId>`), which name the network namespaces and bpffs
   * folders, so two simulators never share them. Lowercase letters and digits, at most 12.
   * Default: 4 random hex characters. A fixed id lets a restarted simulator find its pins again;
   * two simulators running at once must not share one.
   */
  instanceId?: string;
  /** Agents keep chain metadata in `<stateDir>/<agentId>`. Default: a temporary folder removed by close(). */
  stateDir?: string;
  /** Default LOG_LEVEL, else 'info'. */
  logLevel?: string;
  /** Agents started at once. Default 8. */
  concurrency?: number;
  /** The credential of the agents' fault endpoint (`PUT /v1/faults`), at least 32 characters. Default: random per simulator. */
  faultToken?: string;
}

/**
 * A simulated machine's agent: a process of its own in the machine's namespace (`pid`) on a
 * packet-true fleet, else the agent embedded in the simulator (`pid` null), whose drivers and
 * fault book the simulator can reach directly.
 */
export type SimAgent = Pick<RunningAgent, 'url' | 'mode' | 'close'> & {
  pid: number | null;
  drivers?: RunningAgent['drivers'];
  faults?: RunningAgent['faults'];
  /** Stops the agent's process at once (the machine stays): a crashed agent. Absent in-process. */
  kill?: () => Promise<void>;
};

export interface SimAgents {
  instanceId: string;
  port: number;
  /** By machine system_id: every host, and on a packet-true fleet every DPU (its own machine, agent in its namespace). */
  agents: Map<string, SimAgent>;
  /** What `PUT /v1/faults` on the embedded agents takes instead of the agent token (agent processes have no fault endpoint). */
  faultToken: string;
  /**
   * What a (re)deployment does to a host's agent: the old one goes with the old OS, and the new one
   * runs with the settings the deployment's cloud-init wrote (none: no agent was installed).
   */
  redeploy(systemId: string, settings: { token: string; publicKeyPem: string; port: number } | null): Promise<void>;
  /** Faults of the emulated machines' cabling and hardware stages (packet-true fleet only, else null). */
  hardware: SimHardwareFaults | null;
  /** A packet-true host's namespaces and port paths (null for a DPU machine or without a kernel): what the demo inspects from outside the agent. */
  topology(systemId: string): MachineTopology | null;
  close(): Promise<void>;
}

export interface SimHardwareFaults {
  /** Swaps two host ports' cables (see swapCables). */
  swapCables(systemId: string, a: string, b: string): Promise<void>;
  /** The port's NIC stage or DPU passes nothing on to the host, as wrong forwarding rules in its switch would (see dropAtStage). */
  dropAtStage(systemId: string, iface: string, stage: 'nic' | 'dpu'): Promise<void>;
  /** The chain running on a host port has its first two slots swapped behind its agent (see swapChainSlots). */
  swapChainSlots(systemId: string, iface: string): Promise<void>;
}

/** Why the simulator's agents could not start; the ones that did were stopped and cleaned up. */
export class SimAgentStartError extends Error {
  override readonly name = 'SimAgentStartError';
  readonly code = 'agent_start_failed';
  constructor(
    message: string,
    readonly field: string,
    readonly systemId: string | null,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

const INSTANCE_ID = /^[a-z0-9]{1,12}$/;

/** MAAS JSON exactly as a client receives it: rendered, serialised, parsed. */
function asMaasSees(store: MaasSimStore, m: SimMachine): Machine {
  const raw = JSON.parse(JSON.stringify(renderMachine(store, m))) as RawMachine;
  const pci = JSON.parse(JSON.stringify(renderDevices(m))) as RawPciDevice[];
  return toMachine(raw, pci);
}

/**
 * The devices of a simulated host as ioplane's inventory computes them from this simulator's
 * MAAS answers (toMachine, then detectDevices with the DPU machines whose parent is the host),
 * so device ids (`<systemId>/<name>`) and profiles match the inventory one for one.
 */
export function simulatedDevices(store: MaasSimStore, systemId: string, profiles: readonly FirmwareProfile[]): Device[] {
  const host = store.get(systemId);
  const dpus = host.model.dpuSystemIds.map((id) => asMaasSees(store, store.get(id)));
  return detectDevices(asMaasSees(store, host), dpus, profiles);
}

export function agentIdFor(instanceId: string, systemId: string): string {
  return `${instanceId}-${systemId}`;
}

/** Removes what an agent of this simulator leaves on the machine: namespaces, bpffs pins, state. */
async function scrub(agentId: string, stateDir: string): Promise<void> {
  await removeMachine(agentId).catch(() => undefined);
  await fsp.rm(bpffsRoot(agentId), { recursive: true, force: true }).catch(() => undefined);
  // The agent's hardware stages pin under `<agentId>-s<n>` (see createDrivers).
  const root = bpffsRoot(agentId);
  for (const d of await fsp.readdir(dirname(root)).catch(() => [] as string[])) {
    if (d.startsWith(`${basename(root)}-s`) && /-s\d+$/.test(d))
      await fsp.rm(join(dirname(root), d), { recursive: true, force: true }).catch(() => undefined);
  }
  await fsp.rm(join(stateDir, agentId), { recursive: true, force: true });
}

/**
 * One agent per simulated host (never per DPU: a DPU is a device of its host, whose agent owns
 * it), listening on the host's management address from MAAS (`127.77.z.n`; Linux answers on
 * all of 127.0.0.0/8 without configuration).
 */
export async function startSimAgents(store: MaasSimStore, opts: SimAgentOptions, defaults: { timeScale: number }): Promise<SimAgents> {
  const instanceId = opts.instanceId ?? randomBytes(2).toString('hex');
  if (!INSTANCE_ID.test(instanceId))
    throw new SimAgentStartError(
      `agents.instanceId must be 1-12 lowercase letters or digits, got '${instanceId}'`,
      'agents.instanceId',
      null,
    );
  const port = opts.port ?? 9440;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new SimAgentStartError(`agents.port must be an integer from 0 to 65535, got ${port}`, 'agents.port', null);
  const timeScale = opts.timeScale ?? defaults.timeScale;
  if (!(timeScale >= 0)) throw new SimAgentStartError(`agents.timeScale must be a number >= 0, got ${timeScale}`, 'agents.timeScale', null);
  if (!opts.tokenSecret) throw new SimAgentStartError('agents.tokenSecret must not be empty', 'agents.tokenSecret', null);
  const faultToken = opts.faultToken ?? randomBytes(32).toString('hex');
  if (faultToken.length < 32) throw new SimAgentStartError('agents.faultToken must be at least 32 characters', 'agents.faultToken', null);
  const concurrency = Math.max(1, opts.concurrency ?? 8);
  const ownStateDir = opts.stateDir === undefined;
  const stateDir = opts.stateDir ?? (await fsp.mkdtemp(join(tmpdir(), `ioplane-fleet-sim-${instanceId}-`)));
  const profiles = loadProfiles();
  const logger = createLogger({ name: 'agent', level: opts.logLevel ?? process.env.LOG_LEVEL ?? 'info' });
  const agents = new Map<string, SimAgent>();
  const hosts = store.model.hosts;
  // Packet-true machines (wire -> DPU -> NIC stage -> host namespaces) where the kernel can hold them;
  // their agents run as processes inside them. Without root, the agents stay embedded here.
  const packetTrue = opts.kernel !== 'off' && process.getuid?.() === 0;
  const nets = new Map<string, SimMachineNet>();
  let mgmt: ((index: number) => MgmtAddress) | null = null;
  if (packetTrue) {
    await removeLeftovers().catch(() => []);
    mgmt = await mgmtAddresses(instanceId, hosts.length + store.model.dpus.length);
  }

  // Only agents that started are scrubbed: one that failed to listen may share its id with a
  // running simulator (a fixed instanceId), whose namespaces and pins are not ours to remove.
  const cleanup = async (): Promise<void> => {
    const running = [...agents.entries()];
    agents.clear();
    await Promise.allSettled(running.map(([, a]) => a.close()));
    const built = [...nets.values()];
    nets.clear();
    await Promise.allSettled(built.map((n) => n.remove()));
    const ids = running.map(([systemId]) => agentIdFor(instanceId, systemId));
    for (let i = 0; i < ids.length; i += concurrency) await Promise.all(ids.slice(i, i + concurrency).map((id) => scrub(id, stateDir)));
    if (ownStateDir) await fsp.rm(stateDir, { recursive: true, force: true });
  };

  // Each agent process has its machine's address to itself, so any port is free there.
  let shared = packetTrue && port === 0 ? 9440 : port;
  const launch = async (systemId: string, settings?: { token: string; publicKeyPem: string; port: number }): Promise<void> => {
    const m = store.get(systemId);
    const id = agentIdFor(instanceId, systemId);
    const address = m.model.ipAddress;
    try {
      const devices = simulatedDevices(store, systemId, profiles);
      let net = nets.get(systemId);
      if (packetTrue && !net) {
        const index = hosts.findIndex((h) => h.systemId === systemId);
        net = await buildMachineNet({ name: `${instanceId}-${m.hostname}`, instanceId, index, devices, profiles });
        nets.set(systemId, net);
        // The controller reaches the agent where MAAS says the machine is: its management address.
        const a = mgmt!(index);
        await addMgmtLink(net.topology.hostNetns, mgmtLinkName(instanceId, systemId), a);
        m.model.ipAddress = a.address;
        for (const i of m.model.interfaces) if (i.isBoot) i.ipAddress = a.address;
      }
      if (net) {
        const common = {
          port: settings?.port ?? shared,
          publicKeyPem: settings?.publicKeyPem ?? opts.publicKeyPem,
          timeScale,
          kernel: opts.kernel ?? 'auto',
          logLevel: logger.level,
        } as const;
        // A DPU is a machine of its own (MAAS: a child of its host) whose agent holds the DPU's devices; the host's agent does not.
        const onDpu = (d: (typeof devices)[number]) => d.kind === 'dpu' && !!d.dpuSystemId && m.model.dpuSystemIds.includes(d.dpuSystemId);
        const proc = await startAgentProcess({
          ...common,
          netns: net.topology.hostNetns,
          id,
          host: m.model.ipAddress,
          token: settings?.token ?? agentToken(opts.tokenSecret, systemId),
          // The DPU's host-side netdevs stay the host's: host XDP on them, as the entry an agent holding the card would add.
          machine: {
            systemId,
            hostname: m.hostname,
            devices: devices.flatMap((d) =>
              onDpu(d) ? [{ ...d, id: hostXdpDeviceId(d.id), name: `${d.name}~xdp`, kind: 'nic' as const, profileId: null }] : [d],
            ),
          },
          stateDir: join(stateDir, id),
          ports: {
            wire: net.ports.wire,
            stages: Object.fromEntries(Object.entries(net.ports.stages).filter(([d]) => !devices.some((x) => x.id === d && onDpu(x)))),
          },
        });
        agents.set(systemId, proc);
        for (const dpuId of m.model.dpuSystemIds) {
          const dpu = store.get(dpuId);
          const own = devices.filter((d) => onDpu(d) && d.dpuSystemId === dpuId);
          const stage = own.map((d) => net!.ports.stages[d.id]).find((x) => x);
          if (!stage) continue;
          const a = mgmt!(
            hosts.length +
              Math.max(
                0,
                store.model.dpus.findIndex((x) => x.systemId === dpuId),
              ),
          );
          await addMgmtLink(stage.netns, mgmtLinkName(instanceId, dpuId), a);
          dpu.model.ipAddress = a.address;
          for (const i of dpu.model.interfaces) if (i.isBoot) i.ipAddress = a.address;
          const dpuAgentId = agentIdFor(instanceId, dpuId);
          agents.set(
            dpuId,
            await startAgentProcess({
              ...common,
              // Its own namespace holds the uplink p<n> and the host representor pf<n>hpf, as on the DPU's Arm cores.
              netns: stage.netns,
              id: dpuAgentId,
              host: a.address,
              token: agentToken(opts.tokenSecret, dpuId),
              machine: { systemId: dpuId, hostname: dpu.hostname, devices: own },
              stateDir: join(stateDir, dpuAgentId),
              ports: {
                wire: {},
                stages: Object.fromEntries(own.filter((d) => net!.ports.stages[d.id]).map((d) => [d.id, net!.ports.stages[d.id]])),
              },
            }),
          );
        }
        return;
      }
      const agent = await startAgent({
        id,
        host: address,
        port: settings?.port ?? shared,
        token: settings?.token ?? agentToken(opts.tokenSecret, systemId),
        machine: { systemId, hostname: m.hostname, devices },
        profiles,
        publicKeyPem: settings?.publicKeyPem ?? opts.publicKeyPem,
        timeScale,
        kernel: opts.kernel ?? 'auto',
        stateDir: join(stateDir, id),
        logger: logger.child({ host: m.hostname }),
        // Simulated hosts take injected faults; a production agent (apps/agent/src/main.ts) cannot.
        simulator: { faultToken },
      });
      agents.set(systemId, { ...agent, pid: null });
      if (shared === 0) shared = Number(new URL(agent.url).port);
    } catch (e) {
      throw new SimAgentStartError(
        `agent for ${m.hostname} (${systemId}) on ${m.model.ipAddress ?? address}:${shared || 'any'} failed to start: ${(e as Error).message}`,
        'agents',
        systemId,
        e,
      );
    }
  };

  try {
    // The first agent fixes the port when asked for any, so it starts alone.
    if (hosts.length) await launch(hosts[0].systemId);
    let next = 1;
    let failed = false;
    const workers = Array.from({ length: Math.min(concurrency, Math.max(0, hosts.length - 1)) }, async () => {
      while (!failed && next < hosts.length) {
        const h = hosts[next++];
        try {
          await launch(h.systemId);
        } catch (e) {
          failed = true;
          throw e;
        }
      }
    });
    const results = await Promise.allSettled(workers);
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
  } catch (e) {
    await cleanup();
    throw e;
  }

  const netOf = (systemId: string): SimMachineNet => {
    const net = nets.get(systemId);
    if (!net) throw new Error(`machine ${systemId} has no emulated network (not a host, or not running)`);
    return net;
  };
  let closing: Promise<void> | undefined;
  return {
    instanceId,
    port: shared,
    agents,
    faultToken,
    topology: (systemId) => nets.get(systemId)?.topology ?? null,
    hardware: packetTrue
      ? {
          swapCables: (systemId, a, b) => swapCables(netOf(systemId).topology, a, b),
          dropAtStage: (systemId, iface, stage) => dropAtStage(netOf(systemId).topology, iface, stage),
          swapChainSlots: (systemId, iface) => swapChainSlots(netOf(systemId).topology, iface, bpffsRoot(agentIdFor(instanceId, systemId))),
        }
      : null,
    async redeploy(systemId, settings) {
      const old = agents.get(systemId);
      agents.delete(systemId);
      if (old) {
        // The host's DPUs sit in its namespaces: their agents stop with it and start again with the next one.
        for (const dpuId of store.get(systemId).model.dpuSystemIds) {
          await agents.get(dpuId)?.close();
          agents.delete(dpuId);
          await scrub(agentIdFor(instanceId, dpuId), stateDir);
        }
        await old.close();
        await scrub(agentIdFor(instanceId, systemId), stateDir);
        // A new OS starts with no programs attached: the machine's namespaces are rebuilt with the next agent.
        await nets.get(systemId)?.remove();
        nets.delete(systemId);
      }
      if (settings && !closing) await launch(systemId, settings);
    },
    close() {
      closing ??= cleanup();
      return closing;
    },
  };
}
