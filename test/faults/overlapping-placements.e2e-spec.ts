import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { acceptingNotRun, chainsOf, Harness, hostId, http, startHarness, syncFleet, until, waitStatus } from '../harness';

const EXAMPLE = parse(readFileSync('placements/example.yaml', 'utf8'));
const MODULES: string[] = EXAMPLE.modules.map((m: { name: string }) => m.name);
const ENDED = ['completed', 'failed', 'cancelled', 'rolled-back', 'infeasible'];
const on = (hostnames: string[]) => acceptingNotRun({ ...EXAMPLE, selector: { hostnames } });

describe('two placements touching the same machine', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await syncFleet(h);
  }, 120_000);
  afterAll(() => h?.stop(), 60_000);

  it('refuses the second with 409 naming the machines and the holder; nothing of it runs; after the first ends it is accepted and runs', async () => {
    const shared = hostId(h, 'edge-a07');
    const onlyB = hostId(h, 'edge-b07');
    const a = await http(h.apiUrl, 'POST', '/v1/placements', on(['edge-a06', 'edge-a07']));
    expect(a.status).toBe(202);
    const first: string = a.body.id;
    // Paused before its machines run: the first placement's rollout exists but cannot end, so the
    // second meets it mid-rollout whatever the timing.
    expect((await http(h.apiUrl, 'POST', `/v1/placements/${first}/pause`)).status).toBe(202);
    await until(
      'the first rollout to be planned, its machines held',
      async () => {
        const p = (await http(h.apiUrl, 'GET', `/v1/placements/${first}`)).body;
        return p.rollout?.machines.length === 2 && p.rollout.machines.every((m: { state: string }) => m.state === 'pending');
      },
      60_000,
    );

    const before = (await http(h.apiUrl, 'GET', '/v1/placements')).body.items.map((p: { id: string }) => p.id);
    const b = await http(h.apiUrl, 'POST', '/v1/placements', on(['edge-a07', 'edge-b07']));
    expect(b.status).toBe(409);
    expect(b.body.error).toMatchObject({
      code: 'machine_leased',
      field: 'selector',
      leased: [{ placementId: first, machines: [{ systemId: shared, hostname: 'edge-a07' }] }],
    });
    expect(b.body.error.message).toContain('edge-a07');
    expect(b.body.error.message).toContain(first);
    // Nothing of the refused placement was stored, queued or leased.
    expect((await http(h.apiUrl, 'GET', '/v1/placements')).body.items.map((p: { id: string }) => p.id)).toEqual(before);
    expect(await h.redis.get(`${h.keys.base}:lease:machine:${onlyB}`)).toBeNull();
    expect(JSON.parse((await h.redis.get(`${h.keys.base}:lease:machine:${shared}`))!)).toMatchObject({ owner: first });

    expect((await http(h.apiUrl, 'POST', `/v1/placements/${first}/resume`)).status).toBe(202);
    const done = await waitStatus(h, first, ENDED, 2400);
    expect(done.status).toBe('completed');
    expect(done.rollout.machines.map((m: { hostname: string; state: string }) => [m.hostname, m.state]).sort()).toEqual([
      ['edge-a06', 'committed'],
      ['edge-a07', 'committed'],
    ]);
    // The refused placement touched nothing: the machine only it named runs none of the modules.
    expect(await chainsOf(h, onlyB, MODULES)).toEqual([]);
    // The first placement's rollout ended: its leases are given back.
    expect(await h.redis.get(`${h.keys.base}:lease:machine:${shared}`)).toBeNull();

    const again = await http(h.apiUrl, 'POST', '/v1/placements', on(['edge-a07', 'edge-b07']));
    expect(again.status).toBe(202);
    const second = await waitStatus(h, again.body.id, ENDED, 2400);
    expect(second.status).toBe('completed');
    expect(second.rollout.machines.map((m: { hostname: string; state: string }) => [m.hostname, m.state]).sort()).toEqual([
      ['edge-a07', 'committed'],
      ['edge-b07', 'committed'],
    ]);
    expect((await chainsOf(h, onlyB, MODULES)).length).toBeGreaterThan(0);
  }, 240_000);
});
