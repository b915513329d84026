import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { queuePrefix } from '@ioplane/queue';
import { StateKeys } from '@ioplane/state';
import { acceptingNotRun, Harness, http, startHarness, syncFleet, waitStatus } from '../harness';
import { ClusterSet } from './ha.fixture';
import { converged, outcomes } from './processes.fixture';

const EXAMPLE = acceptingNotRun(parse(readFileSync('placements/example.yaml', 'utf8')));
const MODULES: string[] = EXAMPLE.modules.map((m: { name: string }) => m.name);

/**
 * ioplane on a three-master Redis Cluster: the API's multi-key scripts (a placement and its
 * idempotency key in one step), BullMQ's flows and the rollout's records all work because every
 * key of an installation carries one hash tag; without it the first submission fails CROSSSLOT.
 */
describe('ioplane on a Redis Cluster', () => {
  const cluster = new ClusterSet();
  let h: Harness;

  beforeAll(async () => {
    await cluster.start();
    h = await startHarness({ redisUrl: cluster.url });
    await syncFleet(h);
  }, 120_000);

  afterAll(async () => {
    if (h) await h.stop().catch(() => undefined);
    await cluster.stop();
  });

  it('keeps every key of an installation in one slot, with the queues', async () => {
    const keys = new StateKeys(h.config.IOPLANE_PREFIX);
    const slots = new Set(
      await Promise.all(
        [
          keys.placement('p1'),
          keys.idempotency('k'),
          keys.placements,
          keys.rolloutMachines('p1'),
          keys.observed,
          `${queuePrefix(h.config.IOPLANE_PREFIX)}:rollout:wait`,
        ].map((k) => cluster.keySlot(k)),
      ),
    );
    expect(slots.size).toBe(1);
  });

  it('plans and rolls a placement out, every machine committed as its agent reports', async () => {
    const res = await http(
      h.apiUrl,
      'POST',
      '/v1/placements',
      { ...EXAMPLE, selector: { hostnames: ['edge-a01', 'edge-b02', 'core-c09'] } },
      { 'idempotency-key': 'cluster-run-1' },
    );
    expect(res.status).toBe(202);
    const done = await waitStatus(h, res.body.id, ['completed', 'failed', 'infeasible', 'cancelled']);
    expect({ status: done.status, error: done.error }).toEqual({ status: 'completed', error: null });
    const seen = await outcomes(h, h.apiUrl, res.body.id, MODULES);
    expect(seen.map((m) => m.state)).toEqual(['committed', 'committed', 'committed']);
    expect(seen).toEqual(converged(seen, MODULES));
    // The same key again finds the first placement (the multi-key script ran in one slot).
    const again = await http(
      h.apiUrl,
      'POST',
      '/v1/placements',
      { ...EXAMPLE, selector: { hostnames: ['edge-a01', 'edge-b02', 'core-c09'] } },
      { 'idempotency-key': 'cluster-run-1' },
    );
    expect(again.body.id).toBe(res.body.id);
  }, 300_000);
});
