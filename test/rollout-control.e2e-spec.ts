import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { chainsOf, firmwareOf, Harness, http, startSyncedHarness, until, waitStatus, type RolloutMachine } from './harness';

const EXAMPLE = parse(readFileSync('placements/example.yaml', 'utf8'));
const MODULES: string[] = EXAMPLE.modules.map((m: { name: string }) => m.name);
const ENDED = ['completed', 'failed', 'cancelled', 'rolled-back'];
// Agilio flavour switches take write 2 s + activate 15 s, scaled to 1.7 s: the rollout is in flight long enough to steer.
const TIME_SCALE = 0.1;
// As root the fleet is packet-true (agents with a kernel: the health checks' vectors and probes really run);
// without root every hop is modeled and its probe cannot run, which the placement must then accept in so many words.
const ROOT = process.getuid?.() === 0;
const REQUEST = ROOT ? EXAMPLE : { ...EXAMPLE, policy: { ...EXAMPLE.policy, acceptNotRun: true } };
const AGENTS = { timeScale: TIME_SCALE, kernel: ROOT ? ('auto' as const) : ('off' as const) };
// Building every machine's namespaces and agents takes minutes on a packet-true fleet; a rollout there too, on 2 busy cores.
const SETUP_MS = ROOT ? 600_000 : 60_000;
const TEST_MS = ROOT ? 600_000 : 120_000;
const WAIT_POLLS = ROOT ? 10_000 : 1200;

async function placement(h: Harness, id: string): Promise<{ status: string; rollout: { machines: RolloutMachine[] } | null }> {
  return (await http(h.apiUrl, 'GET', `/v1/placements/${id}`)).body;
}

async function start(h: Harness): Promise<{ id: string; flashing: RolloutMachine; before: Map<string, Record<string, string>> }> {
  const before = new Map<string, Record<string, string>>();
  for (const m of h.sim.model.hosts) if (h.sim.agents.has(m.systemId)) before.set(m.systemId, await firmwareOf(h, m.systemId));
  const res = await http(h.apiUrl, 'POST', '/v1/placements', REQUEST);
  expect(res.status).toBe(202);
  const id: string = res.body.id;
  const flashing = await until(
    'a machine of the rollout to be flashing',
    async () => (await placement(h, id)).rollout?.machines.find((m) => m.state === 'flashing'),
    ROOT ? 300_000 : 30_000,
  );
  return { id, flashing, before };
}

describe('cancel mid-rollout', () => {
  let h: Harness;
  beforeAll(async () => (h = await startSyncedHarness({ agents: AGENTS })), SETUP_MS);
  afterAll(() => h?.stop(), SETUP_MS);

  it(
    'leaves every machine clean: earlier waves committed, the running wave rolled back, the rest cancelled and untouched',
    async () => {
      const { id, flashing, before } = await start(h);
      const cancel = await http(h.apiUrl, 'POST', `/v1/placements/${id}/cancel`);
      expect(cancel.status).toBe(202);

      const done = await waitStatus(h, id, ENDED, WAIT_POLLS);
      expect(done.status).toBe('cancelled');
      const machines: RolloutMachine[] = done.rollout.machines;
      const w = flashing.wave;
      expect(w).toBeGreaterThan(0);
      for (const m of machines) {
        const allowed = m.wave < w ? ['committed'] : m.wave === w ? ['rolled-back', 'cancelled'] : ['cancelled'];
        expect({ host: m.hostname, wave: m.wave, state: allowed.includes(m.state) ? 'ok' : m.state }).toEqual({
          host: m.hostname,
          wave: m.wave,
          state: 'ok',
        });
      }
      // The machine caught mid-flash finished its flash, then went back to the firmware it had.
      expect(machines.find((m) => m.systemId === flashing.systemId)).toMatchObject({
        state: 'rolled-back',
        reason: expect.stringMatching(/cancelled by the operator/),
      });
      for (const m of machines.filter((x) => x.state !== 'committed')) {
        expect({ host: m.hostname, chains: await chainsOf(h, m.systemId, MODULES) }).toEqual({ host: m.hostname, chains: [] });
        expect({ host: m.hostname, firmware: await firmwareOf(h, m.systemId) }).toEqual({
          host: m.hostname,
          firmware: before.get(m.systemId),
        });
        const { devices } = await h.agent(m.systemId).programs();
        expect(devices.every((d) => !d.firmware?.updating)).toBe(true);
      }
      for (const m of machines.filter((x) => x.state === 'committed'))
        expect((await chainsOf(h, m.systemId, MODULES)).length).toBeGreaterThan(0);
    },
    TEST_MS,
  );
});

describe('pause and resume', () => {
  let h: Harness;
  beforeAll(async () => (h = await startSyncedHarness({ agents: AGENTS })), SETUP_MS);
  afterAll(() => h?.stop(), SETUP_MS);

  it(
    'stops machines advancing while paused, and completes after resume',
    async () => {
      const { id, flashing } = await start(h);
      expect((await http(h.apiUrl, 'POST', `/v1/placements/${id}/pause`)).status).toBe(202);
      const paused = await placement(h, id);
      expect(paused.status).toBe('paused');
      const pending = paused.rollout!.machines.filter((m) => m.state === 'pending').map((m) => m.hostname);
      expect(pending.length).toBeGreaterThan(0);

      // Watch until the device caught mid-flash has finished writing, then one more second: no
      // pending machine starts, and the flashed machine does not go on to load.
      const agent = h.agent(flashing.systemId);
      let flashedAt: number | null = null;
      await until(
        'the paused rollout to stay still for 1 s after the running flash ended',
        async () => {
          const now = (await placement(h, id)).rollout!.machines;
          const left = pending.filter((host) => now.find((m) => m.hostname === host)!.state !== 'pending');
          expect({ left }).toEqual({ left: [] });
          expect(now.find((m) => m.systemId === flashing.systemId)!.state).toBe('flashing');
          if (flashedAt === null && (await agent.programs()).devices.every((d) => !d.firmware?.updating)) flashedAt = Date.now();
          return flashedAt !== null && Date.now() - flashedAt > 1_000;
        },
        15_000,
      );
      expect(Object.values(await firmwareOf(h, flashing.systemId))).toContain('netronome-agilio-cx-bpf-2.1');

      expect((await http(h.apiUrl, 'POST', `/v1/placements/${id}/resume`)).status).toBe(202);
      const done = await waitStatus(h, id, ENDED, WAIT_POLLS);
      expect(done.status).toBe('completed');
      expect(done.rollout.machines.map((m: RolloutMachine) => `${m.hostname}:${m.state}`)).toEqual(
        done.rollout.machines.map((m: RolloutMachine) => `${m.hostname}:committed`),
      );
      expect(await chainsOf(h, flashing.systemId, MODULES)).not.toEqual([]);
    },
    TEST_MS,
  );
});
