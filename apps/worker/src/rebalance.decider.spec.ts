import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { hostXdpDeviceId } from '@ioplane/domain';
import { fleet } from '@ioplane/domain/testing';
import { ModuleCatalog } from '@ioplane/catalog';
import { planPlacement, PlacementRequest, placementRequestSchema, SubmitPlacement } from '@ioplane/planning';
import { QUEUES } from '@ioplane/queue';
import { loadProfiles } from '@ioplane/profiles';
import type { MachineState, Proposal, TelemetryWindow } from '@ioplane/rebalance';
import {
  PlacementRecord,
  RebalanceRepository,
  RedisFleetRepository,
  RedisModuleRepository,
  RedisPlacementRepository,
  RolloutRepository,
  TelemetryRepository,
} from '@ioplane/state';
import { decideRound, DeciderDeps } from './rebalance.decider';

// Real Redis: REDIS_URL, or the server test/global-setup.ts spawned.
const url = process.env.REDIS_URL!;
const profiles = loadProfiles();
const SURGE = 20_000_000;

/**
 * Two zone-c hosts whose traffic enters through a BlueField-3 (ens2f0np0) and an edge host with a
 * plain NIC: at the 1,000 pps ddos-drop was placed for, host XDP on the BlueField's netdev is the
 * cheapest; at 20 Mpps the DPU's Arm cores are (the rebalance e2e's scenario).
 */
const machines = fleet()
  .host({ hostname: 'core-c01', zone: 'zone-c', pool: 'core', cards: ['smartnic', 'bluefield-3'] })
  .host({ hostname: 'core-c02', zone: 'zone-c', pool: 'core', cards: ['smartnic', 'bluefield-3'] })
  .host({ hostname: 'edge-a01', cards: ['nic'] })
  .build();
const hosts = machines.filter((m) => !m.isDpu);
const zoneC = hosts.filter((m) => m.zone === 'zone-c');

const source: PlacementRequest = placementRequestSchema.parse({
  selector: { zones: ['zone-c'] },
  ingress: { interfaces: ['ens2f0np0'] },
  modules: [{ name: 'ddos-drop', prefer: 'auto', latencyBudgetUs: 20, traffic: { pps: 1_000, meanPacketBytes: 128 } }],
});

describe(decideRound.name, () => {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let cacheDir: string;
  let prefix: string;
  let deps: DeciderDeps;
  let repos: {
    fleet: RedisFleetRepository;
    placements: RedisPlacementRepository;
    rollouts: RolloutRepository;
    telemetry: TelemetryRepository;
    rebalance: RebalanceRepository;
    catalog: ModuleCatalog;
  };
  let sourceId: string;
  const enqueued: string[] = [];
  const logs: string[] = [];

  /** A real submission (store and plan job) as the worker's processor makes it; the job lands in `enqueued`. */
  const submit = async (req: PlacementRequest, key: string) =>
    (
      await new SubmitPlacement({
        ...repos,
        leases: repos.rollouts,
        newId: () => `pl-${randomUUID().slice(0, 8)}`,
        planQueue: { name: QUEUES.placement, add: async (_n, d) => (enqueued.push((d as { placementId: string }).placementId), {}) },
      }).execute({ request: req, idempotencyKey: key })
    ).record.id;

  /** Opens windows up to `window` and records each machine's ddos-drop rate in it. */
  async function traffic(window: number, pps: Record<string, number>) {
    while ((await repos.telemetry.currentWindow()) < window) await repos.telemetry.nextWindow();
    for (const [hostname, rate] of Object.entries(pps)) {
      const m = hosts.find((h) => h.hostname === hostname)!;
      const w: TelemetryWindow = {
        window,
        systemId: m.systemId,
        hostname,
        at: new Date().toISOString(),
        devices: {},
        hostXdpCores: null,
        errors: [],
        stray: [],
        modules: {
          'ddos-drop': { pps: rate, bytesPerSecond: rate * 128, dropsPerSecond: 0, meanPacketBytes: 128, deviceIds: [], hostCores: null },
        },
      };
      await repos.telemetry.record(m.systemId, w, {}, { windows: 10, ttlSeconds: 600 });
    }
  }

  const policy = (mode: 'auto' | 'propose', over: Record<string, unknown> = {}) =>
    repos.rebalance.setPolicy({ rules: [{ selector: { zones: ['zone-c'] }, mode, windows: 1, cooldownWindows: 5, ...over }] });
  const states = async () => repos.rebalance.states<MachineState>();
  const proposals = async () => (await repos.rebalance.proposals<Proposal>(100)).sort((a, b) => a.id.localeCompare(b.id));

  beforeAll(async () => {
    await redis.connect();
    cacheDir = await fsp.mkdtemp('/tmp/ioplane-decider-spec-');
  });
  afterAll(async () => {
    redis.disconnect();
    await fsp.rm(cacheDir, { recursive: true, force: true });
  });

  // Every test on an installation of its own: the source placement planned for real and committed on the zone-c hosts.
  beforeEach(async () => {
    prefix = `ioplane-test-${randomUUID().slice(0, 8)}`;
    repos = {
      fleet: new RedisFleetRepository(redis, prefix),
      placements: new RedisPlacementRepository(redis, prefix),
      rollouts: new RolloutRepository(redis, prefix),
      telemetry: new TelemetryRepository(redis, prefix),
      rebalance: new RebalanceRepository(redis, prefix),
      catalog: new ModuleCatalog(new RedisModuleRepository(redis, prefix), profiles, { cacheDir, kernel: 'off' }),
    };
    enqueued.length = 0;
    logs.length = 0;
    deps = { ...repos, profiles, submit, log: (msg) => void logs.push(msg) };
    await repos.fleet.replaceInventory(machines);
    sourceId = await submit(source, 'source');
    const plan = await planPlacement(sourceId, source, { fleet: repos.fleet, catalog: repos.catalog, profiles });
    for (const mp of plan.machines) {
      const hops = mp.paths.flatMap((p) => p.hops);
      await repos.rollouts.setObserved({
        systemId: mp.systemId,
        placementId: sourceId,
        committedAt: new Date().toISOString(),
        firmware: {},
        previousPlacementId: null,
        // Host XDP on a card with hardware hooks runs in the agent's host-XDP device for its netdevs.
        modules: hops.map((h) => ({
          name: h.module,
          version: '1',
          digest: 'd',
          deviceId: h.target.startsWith('host-') ? hostXdpDeviceId(h.deviceId) : h.deviceId,
          target: h.target,
          profileId: null,
          interface: h.interface,
        })),
      });
    }
  });
  afterEach(async () => {
    const keys = await redis.keys(`{${prefix}}*`);
    if (keys.length) await redis.del(...keys);
  });

  it('starts from host XDP on the BlueField netdev of each zone-c host (the scenario holds)', async () => {
    const observed = await Promise.all(zoneC.map((m) => repos.rollouts.observed(m.systemId)));
    expect(observed.map((o) => o?.modules.map((x) => [x.deviceId, x.target.startsWith('host-xdp')]))).toEqual(
      zoneC.map((m) => [[`${m.systemId}/ens2f0np0~xdp`, true]]),
    );
  });

  it('auto: one rebalance placement for every machine with the same move, its proposals submitted and their modules cooling down', async () => {
    await policy('auto');
    await traffic(1, { 'core-c01': SURGE, 'core-c02': SURGE, 'edge-a01': SURGE });
    const r = await decideRound(deps, 1);
    expect(r).toMatchObject({ window: 1, machines: 3, dropped: [], proposals: ['rb-1-h1', 'rb-1-h2'] });
    expect(r.verdicts).toEqual({ propose: ['core-c01', 'core-c02'], off: ['edge-a01'] });
    expect(r.submitted).toHaveLength(1);
    const [placementId] = r.submitted;
    expect(enqueued).toContain(placementId);
    const rec = (await repos.placements.get(placementId)) as PlacementRecord;
    expect(rec.request).toMatchObject({
      selector: { hostnames: ['core-c01', 'core-c02'] },
      reason: 'rebalance',
      modules: [{ name: 'ddos-drop', traffic: { pps: SURGE, meanPacketBytes: 128 } }],
    });
    expect(rec.idempotencyKey).toMatch(/^rebalance\.w1\.[0-9a-f]{16}$/);
    const ps = await proposals();
    expect(ps.map((p) => [p.id, p.status, p.placementId, p.decidedBy, p.held, p.sourcePlacementId])).toEqual([
      ['rb-1-h1', 'submitted', placementId, 'auto', true, sourceId],
      ['rb-1-h2', 'submitted', placementId, 'auto', true, sourceId],
    ]);
    expect(ps[0].moves).toEqual([
      expect.objectContaining({
        module: 'ddos-drop',
        from: expect.objectContaining({ deviceId: 'h1/ens2f0np0' }),
        to: expect.objectContaining({ target: 'dpu-arm-xdp' }),
      }),
    ]);
    const s = await states();
    expect(s.get('h1')).toMatchObject({ pending: 'rb-1-h1', cooldownUntil: { 'ddos-drop': 6 }, lastVerdict: 'propose' });

    // While the rebalance placement has not finished, the machines are busy: nothing new is proposed.
    await traffic(2, { 'core-c01': SURGE, 'core-c02': SURGE });
    const again = await decideRound(deps, 2);
    expect(again.verdicts).toEqual({ busy: ['core-c01', 'core-c02'], off: ['edge-a01'] });
    expect(again.proposals).toEqual([]);
    // Once it completed the machines are free again, and the cool-down holds the module.
    await repos.placements.setStatus(placementId, 'completed');
    await traffic(3, { 'core-c01': SURGE, 'core-c02': SURGE });
    expect((await decideRound(deps, 3)).verdicts).toEqual({ cooldown: ['core-c01', 'core-c02'], off: ['edge-a01'] });
  });

  it('propose: stores a pending proposal, submits nothing, and keeps the machine busy while it is open', async () => {
    await policy('propose');
    await traffic(1, { 'core-c01': SURGE, 'core-c02': 1_000 });
    const r = await decideRound(deps, 1);
    expect(r.verdicts).toEqual({ propose: ['core-c01'], 'no-move': ['core-c02'], off: ['edge-a01'] });
    expect(r.submitted).toEqual([]);
    expect((await proposals()).map((p) => [p.id, p.status, p.mode, p.placementId])).toEqual([['rb-1-h1', 'pending', 'propose', null]]);
    expect(enqueued).toEqual([sourceId]);
    await traffic(2, { 'core-c01': SURGE, 'core-c02': 1_000 });
    expect((await decideRound(deps, 2)).verdicts.busy).toEqual(['core-c01']);
  });

  it('marks the proposals failed with the reason when the submission is refused, and frees the machines', async () => {
    await policy('auto');
    await traffic(1, { 'core-c01': SURGE });
    const r = await decideRound({ ...deps, submit: async () => Promise.reject(new Error('the selector matches no machine')) }, 1);
    expect(r.submitted).toEqual([]);
    expect((await proposals()).map((p) => [p.id, p.status, p.note, p.held])).toEqual([
      ['rb-1-h1', 'failed', 'the selector matches no machine', false],
    ]);
    expect((await states()).get('h1')).toMatchObject({ pending: null });
    expect(logs).toContain('rebalance: placement refused');
  });

  it('drops the telemetry, state and pending proposal of a machine that left the fleet', async () => {
    await policy('propose');
    await traffic(1, { 'core-c01': SURGE, 'core-c02': SURGE });
    await decideRound(deps, 1);
    await repos.fleet.replaceInventory(machines.filter((m) => m.systemId !== 'h2' && m.parentSystemId !== 'h2'));
    await traffic(2, { 'core-c01': SURGE });
    const r = await decideRound(deps, 2);
    expect(r).toMatchObject({ machines: 2, dropped: ['h2'] });
    expect(await repos.telemetry.machines()).toEqual(['h1']);
    expect([...(await states()).keys()].sort()).toEqual(['h1', 'h3']);
    const p2 = (await proposals()).find((p) => p.id === 'rb-1-h2')!;
    expect(p2).toMatchObject({ status: 'dropped', decidedBy: 'rebalancer', note: 'the machine is no longer Deployed in MAAS' });
    expect((await proposals()).find((p) => p.id === 'rb-1-h1')!.status).toBe('pending');
  });

  it('says why a machine was not evaluated: no placement, no telemetry this window, a source placement that is gone', async () => {
    await repos.rebalance.setPolicy({ rules: [{ selector: {}, mode: 'auto', windows: 1 }] });
    await traffic(1, { 'core-c01': SURGE });
    const r = await decideRound(deps, 1);
    expect(r.verdicts).toEqual({ propose: ['core-c01'], 'no-data': ['core-c02', 'edge-a01'] });
    const s = await states();
    expect(s.get('h2')!.lastNote).toBe('no telemetry for window 1');
    expect(s.get('h3')!.lastNote).toBe('the machine runs no placement');
    await repos.placements.remove(sourceId);
    await traffic(2, { 'core-c02': SURGE });
    await decideRound(deps, 2);
    expect((await states()).get('h2')!.lastNote).toBe(`placement ${sourceId} it follows is gone or unreadable`);
  });

  it('reads no policy as rebalancing off for every machine', async () => {
    await traffic(1, { 'core-c01': SURGE });
    await repos.rebalance.setPolicy({ rules: 'not a policy' });
    expect((await decideRound(deps)).verdicts).toEqual({ off: ['core-c01', 'core-c02', 'edge-a01'] });
    expect(await proposals()).toEqual([]);
  });
});
