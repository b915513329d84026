import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describeKernel } from '@ioplane/compiler/testing';
import { Harness, hostId, http, startSyncedHarness, waitStatus } from './harness';

const EXAMPLE = parse(readFileSync('placements/example.yaml', 'utf8'));
const ENDED = ['completed', 'failed', 'cancelled', 'infeasible', 'rolled-back'];
const ROLLOUT = { canary: 0, waves: [100], maxUnavailable: 4, failureThreshold: 1 };

interface MachineRec {
  systemId: string;
  hostname: string;
  state: string;
  reason: string | null;
}

/**
 * The failures a packet-true fleet must catch in its health check, each injected where it would
 * happen (the machine's cabling, its NIC stage, its DPU's agent) and never told to the agent: each
 * machine must end rolled back with a reason that names the failure.
 */
describeKernel('rollback on a packet-true fleet', (itKernel) => {
  let h: Harness;

  beforeAll(async () => {
    if (process.getuid?.() === 0) h = await startSyncedHarness({ agents: { kernel: 'auto', timeScale: 0.002 } });
  }, 600_000);
  afterAll(() => h?.stop(), 120_000);

  /** Plans first (the plan must put the modules where the case needs them), then rolls out and waits. */
  async function rollout(
    req: Record<string, unknown>,
    expectPlan: (placements: { module: string; deviceId: string; target: string }[]) => void,
  ): Promise<MachineRec> {
    const dry = await http(h.apiUrl, 'POST', '/v1/placements', { ...req, dryRun: true });
    expect({ status: dry.status, error: dry.body.error }).toEqual({ status: 200, error: undefined });
    const [planned] = dry.body.plan.machines;
    expect({ feasible: planned.feasible, infeasible: planned.infeasible }).toEqual({ feasible: true, infeasible: expect.anything() });
    expectPlan(Object.values(planned.placements));
    const res = await http(h.apiUrl, 'POST', '/v1/placements', req);
    expect(res.status).toBe(202);
    const done = await waitStatus(h, res.body.id, ENDED);
    const [m] = done.rollout.machines as MachineRec[];
    return m;
  }

  const hostXdp = (netns: string, dev: string): number | undefined =>
    (
      JSON.parse(execFileSync('ip', ['-n', netns, '-j', 'link', 'show', dev], { encoding: 'utf8' })) as {
        xdp?: { prog?: { id: number } };
      }[]
    )[0].xdp?.prog?.id;
  const netnsOf = (hostname: string, part?: string) => `iop-${h.sim.agentInstanceId}-${hostname}${part ? `-${part}` : ''}`;

  itKernel(
    "a module loaded on the wrong interface (the cables of ens1f0 and ens1f1 swapped): rolled back, the reason says the chain is not on the port's path",
    async () => {
      if (process.getuid?.() !== 0) return console.warn('SKIP: not root');
      await h.sim.hardware!.swapCables(hostId(h, 'edge-a06'), 'ens1f0', 'ens1f1');
      const m = await rollout(
        {
          selector: { hostnames: ['edge-a06'] },
          ingress: { interfaces: ['ens1f1'] },
          modules: [{ name: 'ddos-drop' }],
          policy: { rollout: ROLLOUT },
        },
        (p) => expect(p.map((x) => x.target)).toEqual(['host-xdp-native']),
      );
      expect(m.state).toBe('rolled-back');
      expect(m.reason).toMatch(
        /no module counted the probe packets sent at ens1f1's wire: ddos-drop \(host-xdp-native on \S+ at ens1f1\) not on that port's path \(attached to another interface\)/,
      );
      // Rolled back: nothing of the placement stays attached.
      expect(hostXdp(netnsOf('edge-a06'), 'ens1f1')).toBeUndefined();
    },
    300_000,
  );

  itKernel(
    'a chain in the wrong order (its first two slots swapped in the kernel behind the agent): the same placement again is rolled back, the reason says the chain runs in the wrong order',
    async () => {
      if (process.getuid?.() !== 0) return console.warn('SKIP: not root');
      const systemId = hostId(h, 'edge-b07');
      const req = { ...EXAMPLE, selector: { hostnames: ['edge-b07'] }, policy: { ...EXAMPLE.policy, rollout: ROLLOUT } };
      const first = await rollout(req, (p) => expect(p.map((x) => x.module)).toEqual(['acl-firewall', 'l4-lb', 'ddos-drop']));
      expect(first.state).toBe('committed');
      const port = (await h.agent(systemId).programs()).devices.flatMap((d) => d.ports).find((p) => p.current?.modules.length === 3)!;
      await h.sim.hardware!.swapChainSlots(systemId, port.interface!.name);
      const again = await rollout(req, () => undefined);
      expect(again.state).toBe('rolled-back');
      expect(again.reason).toMatch(
        /the chain runs in the wrong order: agent runs \[l4-lb@\w+, acl-firewall@\w+, ddos-drop@\w+\], expected \[acl-firewall@\w+, l4-lb@\w+, ddos-drop@\w+\]/,
      );
    },
    300_000,
  );

  itKernel(
    'a NIC stage whose rules drop the probe: rolled back, the reason names the NIC hop the packets stop at',
    async () => {
      if (process.getuid?.() !== 0) return console.warn('SKIP: not root');
      await h.sim.hardware!.dropAtStage(hostId(h, 'edge-a01'), 'ens1f0', 'nic');
      const m = await rollout(
        // The example chain: its ACL runs in the NIC stage (XDP offload), the rest in host XDP behind it.
        {
          ...EXAMPLE,
          selector: { hostnames: ['edge-a01'] },
          ingress: { interfaces: ['ens1f0'] },
          policy: { ...EXAMPLE.policy, rollout: ROLLOUT },
        },
        (p) =>
          expect(p.map((x) => `${x.module}:${x.target}`)).toEqual([
            'acl-firewall:nic-xdp-offload',
            expect.stringMatching(/^l4-lb:host-xdp-/),
            expect.stringMatching(/^ddos-drop:host-xdp-/),
          ]),
      );
      expect(m.state).toBe('rolled-back');
      expect(m.reason).toMatch(
        /probe packets at ens1f0 stop after acl-firewall \(nic-xdp-offload on \S+ at ens1f0\) counted \d+: l4-lb \(host-xdp-\w+ on \S+ at ens1f0\) counted none; the hop between drops them/,
      );
      expect(hostXdp(netnsOf('edge-a01'), 'ens1f0')).toBeUndefined();
      expect(hostXdp(netnsOf('edge-a01', 'nic'), 's0in')).toBeUndefined();
    },
    300_000,
  );

  itKernel(
    'a DPU whose agent is down: rolled back, the reason names the DPU machine and its agent',
    async () => {
      if (process.getuid?.() !== 0) return console.warn('SKIP: not root');
      const host = h.sim.model.hosts.find((x) => x.hostname === 'edge-a04')!;
      const dpu = h.sim.store.get(host.dpuSystemIds[0]);
      await h.sim.agents.get(dpu.systemId)!.kill!();
      const m = await rollout(
        {
          selector: { hostnames: ['edge-a04'] },
          ingress: { interfaces: ['ens2f0np0'] },
          modules: [{ name: 'ddos-drop', pin: 'dpu-arm-xdp', latencyBudgetUs: 50 }],
          policy: { rollout: ROLLOUT },
        },
        (p) => expect(p.map((x) => x.target)).toEqual(['dpu-arm-xdp']),
      );
      expect(m.state).toBe('rolled-back');
      expect(m.reason).toContain(`DPU ${dpu.hostname} (${dpu.systemId}) agent at http://${dpu.model.ipAddress}:`);
    },
    300_000,
  );
});
