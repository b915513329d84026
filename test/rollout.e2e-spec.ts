import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { agentToken, AgentClient } from '@ioplane/devices';
import { hostXdpDeviceId } from '@ioplane/domain';
import { Harness, http, startHarness, syncFleet, waitStatus } from './harness';

const EXAMPLE = parse(readFileSync('placements/example.yaml', 'utf8'));

describe('rollout: plan, flash, load, verify, commit on real agents over HTTP', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await syncFleet(h);
  }, 60_000);
  afterAll(() => h?.stop());

  it('rolls the example placement out to every edge machine and records what runs', async () => {
    const res = await http(h.apiUrl, 'POST', '/v1/placements', EXAMPLE);
    expect(res.status).toBe(202);
    const done = await waitStatus(h, res.body.id, ['completed', 'failed', 'infeasible', 'cancelled']);
    expect({ status: done.status, error: done.error, reasons: done.rollout.machines.filter((m: { reason: string | null }) => m.reason).map((m: { hostname: string; reason: string }) => `${m.hostname}: ${m.reason}`) }).toEqual({ status: 'completed', error: null, reasons: [] });
    const plan = (await http(h.apiUrl, 'GET', `/v1/placements/${res.body.id}/plan`)).body;
    expect(done.rollout.machines.map((m: { state: string }) => m.state)).toEqual(plan.machines.map(() => 'committed'));
    expect(done.rollout.waves.length).toBeGreaterThan(1);
    expect(done.rollout.waves[0].machines).toBe(1);

    // What each agent runs is exactly what the plan says, and MAAS carries the note.
    for (const m of plan.machines) {
      const fm = (await http(h.apiUrl, 'GET', `/v1/fleet/machines/${m.systemId}`)).body;
      const agent = new AgentClient(fm.agentUrl, agentToken(readFileSync(`${h.config.IOPLANE_KEYS_DIR}/agent-token.secret`, 'utf8').trim(), m.systemId));
      const programs = await agent.programs();
      // Every hop of every port runs on its device's port: generic XDP on the card that owns the
      // netdev, or on the host-XDP device of that card's netdevs when the card has hardware hooks.
      // Everything loaded is committed.
      type Hop = { module: string; deviceId: string; target: string; port: number; interface: string };
      for (const path of m.paths as Array<{ hops: Hop[] }>) {
        for (const hop of path.hops) {
          const onCard = programs.devices.find((d) => d.deviceId === hop.deviceId)?.ports.find((x) => x.port === hop.port)?.current?.modules.map((x) => x.name) ?? [];
          const hostXdp = programs.devices.find((d) => d.deviceId === hostXdpDeviceId(hop.deviceId))?.ports.find((x) => x.port === hop.port);
          const onHost = hop.target === 'host-xdp-generic' ? (hostXdp?.current?.modules.map((y) => y.name) ?? []) : [];
          expect({ machine: m.hostname, hop: `${hop.module}@${hop.interface}`, on: onCard.includes(hop.module) || onHost.includes(hop.module) }).toEqual({ machine: m.hostname, hop: `${hop.module}@${hop.interface}`, on: true });
        }
      }
      for (const dev of programs.devices) expect(dev.ports.every((port) => !port.current || port.current.committed)).toBe(true);
      for (const [deviceId, profileId] of Object.entries<string>(m.flavourSwitches)) {
        expect(programs.devices.find((d) => d.deviceId === deviceId)!.firmware!.profileId).toBe(profileId);
      }
      const maas = h.sim.store.get(m.systemId);
      expect(JSON.stringify(maas)).toContain(res.body.id);
    }
  }, 120_000);
});
