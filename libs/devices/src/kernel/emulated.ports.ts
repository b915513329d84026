import { z } from 'zod';
import type { HostPorts } from '../kernel-xdp.driver';
import { sendAtWire } from './probe.traffic';

const wireEnd = z.object({ netns: z.string().regex(/^iop-[a-z0-9-]+$/), address: z.string().regex(/^\d+\.\d+\.\d+\.\d+$/) });

/**
 * What an emulated machine has in front of its host's ports, as plain data: the simulator writes
 * it for an agent it runs in a machine's namespace (a file named by AGENT_EMULATED_PORTS), since
 * functions do not cross a process boundary. The agent's code path is the same with or without
 * it; only the drivers it picks for hardware stages and where probes start differ.
 */
export const emulatedPortsSchema = z.object({
  /** By the host netdev a port ends at: the wire namespace and the host address probes go to. */
  wire: z.record(z.string(), wireEnd),
  /** By device id: the SmartNIC's or DPU's stage namespace, its ingress netdev per port, and each port's wire. */
  stages: z.record(
    z.string(),
    z.object({ netns: z.string().regex(/^iop-[a-z0-9-]+$/), netdevs: z.array(z.string().nullable()), wire: z.array(wireEnd.nullable()) }),
  ),
});
export type EmulatedPortsSpec = z.infer<typeof emulatedPortsSchema>;

/** Reads the simulator's description at start-up; a bad one stops the agent with the field that is wrong. */
export function parseEmulatedPorts(raw: unknown): EmulatedPortsSpec {
  const r = emulatedPortsSchema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new Error(`${issue.path.join('.') || '(root)'}: ${issue.message}`);
}

/**
 * The HostPorts a driver set acts on: the host's netdevs in `netns` (null: the namespace this
 * process runs in) and probes sent from the machine's wire namespace.
 */
export function emulatedHostPorts(spec: EmulatedPortsSpec, netns: string | null): HostPorts {
  const stages: NonNullable<HostPorts['stages']> = {};
  for (const [id, s] of Object.entries(spec.stages)) {
    stages[id] = {
      netns: s.netns,
      netdevs: s.netdevs,
      wire: async (port, packets) => {
        const w = s.wire[port];
        return w ? sendAtWire(w.netns, w.address, packets) : 0;
      },
    };
  }
  return {
    netns,
    stages,
    wire: async (netdev, packets) => {
      const w = spec.wire[netdev];
      return w ? sendAtWire(w.netns, w.address, packets) : 0;
    },
  };
}
