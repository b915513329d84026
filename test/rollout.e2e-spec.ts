import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { agentToken, AgentClient } from '@ioplane/agent-api';
import { hostXdpDeviceId } from '@ioplane/domain';
import { Harness, http, startHarness, syncFleet, waitStatus } from './harness';

const EXAMPLE = parse(readFileSync('placements/example.yaml', 'utf8'));
// As root the fleet is packet-true (probes cross every hop in a kernel); without root every hop is
// modeled and its probe cannot run, which the placement must then accept in so many words, as the demo does.
const ROOT = process.getuid?.() === 0;
const REQUEST = ROOT ? EXAMPLE : { ...EXAMPLE, policy: { ...EXAMPLE.policy, acceptNotRun: true } };

describe('rollout: plan, flash, load, verify, commit on real agents over HTTP', () => {
  let h: Harness;
  beforeAll(
    async () => {
      h = await startHarness({ agents: { kernel: ROOT ? 'auto' : 'off' } });
      await syncFleet(h);
      // Building every machine's namespaces and agents takes minutes on a packet-true fleet.
    },
    ROOT ? 600_000 : 60_000,
  );
  afterAll(() => h?.stop());

  it(
    'rolls the example placement out to every edge machine and records what runs',
    async () => {
      const res = await http(h.apiUrl, 'POST', '/v1/placements', REQUEST);
      expect(res.status).toBe(202);
      const done = await waitStatus(h, res.body.id, ['completed', 'failed', 'infeasible', 'cancelled']);
      expect({
        status: done.status,
        error: done.error,
        reasons: done.rollout.machines
          .filter((m: { reason: string | null }) => m.reason)
          .map((m: { hostname: string; reason: string }) => `${m.hostname}: ${m.reason}`),
      }).toEqual({ status: 'completed', error: null, reasons: [] });
      const plan = (await http(h.apiUrl, 'GET', `/v1/placements/${res.body.id}/plan`)).body;
      expect(done.rollout.machines.map((m: { state: string }) => m.state)).toEqual(plan.machines.map(() => 'committed'));
      expect(done.rollout.waves.length).toBeGreaterThan(1);
      expect(done.rollout.waves[0].machines).toBe(1);

      // What each agent runs is exactly what the plan says, and MAAS carries the note.
      for (const m of plan.machines) {
        const fm = (await http(h.apiUrl, 'GET', `/v1/fleet/machines/${m.systemId}`)).body;
        const secret = readFileSync(`${h.config.IOPLANE_KEYS_DIR}/agent-token.secret`, 'utf8').trim();
        const programs = await new AgentClient(fm.agentUrl, agentToken(secret, m.systemId)).programs();
        // A DPU is a machine with its own agent (packet-true fleet): the hops it runs are read from that agent.
        for (const dpuId of new Set<string>(
          fm.devices.filter((d: { dpuSystemId: string | null }) => d.dpuSystemId).map((d: { dpuSystemId: string }) => d.dpuSystemId),
        )) {
          const dm = (await http(h.apiUrl, 'GET', `/v1/fleet/machines/${dpuId}`)).body;
          // Where the worker finds it: its own endpoint, else its MAAS address on the agents' port.
          const url: string | null =
            dm.agentUrl ?? (dm.ipAddresses?.[0] ? `http://${dm.ipAddresses[0]}:${new URL(fm.agentUrl).port}` : null);
          if (!url || url === fm.agentUrl) continue;
          const own = (await new AgentClient(url, agentToken(secret, dpuId)).programs()).devices;
          programs.devices.push(...own.filter((d) => !programs.devices.some((x) => x.deviceId === d.deviceId)));
        }
        // Every hop of every port runs on its device's port: generic XDP on the card that owns the
        // netdev, or on the host-XDP device of that card's netdevs when the card has hardware hooks.
        // Everything loaded is committed.
        type Hop = { module: string; deviceId: string; target: string; port: number; interface: string };
        for (const path of m.paths as Array<{ hops: Hop[] }>) {
          for (const hop of path.hops) {
            const onCard =
              programs.devices
                .find((d) => d.deviceId === hop.deviceId)
                ?.ports.find((x) => x.port === hop.port)
                ?.current?.modules.map((x) => x.name) ?? [];
            const hostXdp = programs.devices
              .find((d) => d.deviceId === hostXdpDeviceId(hop.deviceId))
              ?.ports.find((x) => x.port === hop.port);
            const onHost = hop.target.startsWith('host-') ? (hostXdp?.current?.modules.map((y) => y.name) ?? []) : [];
            expect({
              machine: m.hostname,
              hop: `${hop.module}@${hop.interface}`,
              on: onCard.includes(hop.module) || onHost.includes(hop.module),
            }).toEqual({ machine: m.hostname, hop: `${hop.module}@${hop.interface}`, on: true });
          }
        }
        for (const dev of programs.devices) expect(dev.ports.every((port) => !port.current || port.current.committed)).toBe(true);
        for (const [deviceId, profileId] of Object.entries<string>(m.flavourSwitches)) {
          expect(programs.devices.find((d) => d.deviceId === deviceId)!.firmware!.profileId).toBe(profileId);
        }
        const maas = h.sim.store.get(m.systemId);
        expect(JSON.stringify(maas)).toContain(res.body.id);
      }
    },
    ROOT ? 600_000 : 120_000,
  );
});
