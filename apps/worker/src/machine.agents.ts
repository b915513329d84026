import type { FleetMachine } from '@ioplane/domain';
import type { AgentPort } from '@ioplane/rollout';

type Inventory = Awaited<ReturnType<AgentPort['inventory']>>;
type Programs = Awaited<ReturnType<AgentPort['programs']>>;

/** A DPU machine (MAAS child of the host) and its agent. */
export interface DpuAgent {
  machine: Pick<FleetMachine, 'systemId' | 'hostname'>;
  url: string;
  agent: AgentPort;
}

/** Says whose agent failed: a DPU's own agent is not the host's, and an operator must know which to look at. */
function named(d: DpuAgent, e: unknown): never {
  const err = e instanceof Error ? e : new Error(String(e));
  err.message = `DPU ${d.machine.hostname} (${d.machine.systemId}) agent at ${d.url}: ${err.message}`;
  throw err;
}

/**
 * What a rollout on one host talks to: the host's agent, and the agent of each of its DPUs for
 * the DPU's devices. A DPU is a MAAS machine of its own; where its agent runs (a real DPU, or an
 * emulated machine's DPU namespace), the host's agent does not list the DPU's devices and calls
 * for them go to the DPU. Where the host's agent lists them (an embedded simulator without a
 * kernel), they stay with the host. Reads tolerate a DPU agent that does not answer (a rollback
 * must still restore the host); anything done to a DPU device fails with the DPU named.
 */
export function machineAgents(host: AgentPort, dpus: DpuAgent[], dpuOf: (deviceId: string) => string | null): AgentPort {
  const byDevice = async (deviceId: string): Promise<DpuAgent | null> => {
    const dpuId = dpuOf(deviceId);
    if (!dpuId) return null;
    const d = dpus.find((x) => x.machine.systemId === dpuId);
    if (!d) return null;
    return (await hostServes()).has(deviceId) ? null : d;
  };
  let served: Promise<Set<string>> | null = null;
  const hostServes = (): Promise<Set<string>> => {
    served ??= host.inventory().then((inv) => new Set(inv.devices.map((x) => x.device.id)));
    // A failed read is not remembered: the next call asks again.
    served.catch(() => (served = null));
    return served;
  };
  const call = async <T>(deviceId: string, run: (a: AgentPort) => Promise<T>): Promise<T> => {
    const d = await byDevice(deviceId);
    if (!d) return run(host);
    return run(d.agent).catch((e: unknown) => named(d, e));
  };
  const fromDpus = async <T>(read: (a: AgentPort) => Promise<T>): Promise<T[]> => {
    const onHost = await hostServes();
    const mine = dpus.filter((d) => [...onHost].every((id) => dpuOf(id) !== d.machine.systemId));
    const got = await Promise.allSettled(mine.map((d) => read(d.agent)));
    return got.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  };
  // From a DPU's agent only what the host's does not serve itself (the host's XDP on the DPU's host-side netdevs is the host's).
  const dpuOwned = async (): Promise<(id: string) => boolean> => {
    const onHost = await hostServes();
    return (id) => !onHost.has(id) && dpuOf(id) !== null;
  };
  return {
    async inventory(): Promise<Inventory> {
      const [h, more, owned] = await Promise.all([host.inventory(), fromDpus((a) => a.inventory()), dpuOwned()]);
      return { ...h, devices: [...h.devices, ...more.flatMap((i) => i.devices.filter((d) => owned(d.device.id)))] };
    },
    async programs(): Promise<Programs> {
      const [h, more, owned] = await Promise.all([host.programs(), fromDpus((a) => a.programs()), dpuOwned()]);
      return { ...h, devices: [...h.devices, ...more.flatMap((p) => p.devices.filter((d) => owned(d.deviceId)))] };
    },
    flash: (id, body, signal) => call(id, (a) => a.flash(id, body, signal)),
    load: (id, body, signal) => call(id, (a) => a.load(id, body, signal)),
    commit: (id, port) => call(id, (a) => a.commit(id, port)),
    detach: (id, port) => call(id, (a) => a.detach(id, port)),
    rollback: (id, body, signal) => call(id, (a) => a.rollback(id, body, signal)),
    runVectors: (id, body) => call(id, (a) => a.runVectors(id, body)),
    counters: (id) => call(id, (a) => a.counters(id)),
    probe: (id, port, packets) => call(id, (a) => a.probe(id, port, packets)),
  };
}
