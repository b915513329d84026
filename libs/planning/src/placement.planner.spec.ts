import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { FleetMachine } from '@ioplane/domain';
import { fleet, machine } from '@ioplane/domain/testing';
import { ModuleCatalog } from '@ioplane/catalog';
import { planMachine, PlacementModule } from '@ioplane/placement';
import { loadProfiles } from '@ioplane/profiles';
import { RedisFleetRepository, RedisModuleRepository, StateKeys } from '@ioplane/state';
import { placementRequestSchema } from './placement-request.schema';
import { assertValidPlans, PlacementInputError, planPlacement, PlannerDeps, PlanValidationError } from './placement.planner';
import { toPlacementMachine } from './problem.builder';
import { x710Module } from './testing';

// Real Redis: REDIS_URL, or the server test/global-setup.ts spawned.
const url = process.env.REDIS_URL!;
const profiles = loadProfiles();

const mod = (name: string, chainPosition: number): PlacementModule => x710Module(name, chainPosition, { pps: 1e6, latencyBudgetUs: 10 });

describe(assertValidPlans.name, () => {
  // An X710 host with traffic entering on ens1f0, whose agent reports room for the chain on one hook.
  const slots = { programSlotsPerPort: 10, ports: 2, hookSlots: { 'xdp-native': 10, 'xdp-generic': 10 } };
  const m = toPlacementMachine(machine({ systemId: 's1', hostname: 'h1', cards: ['nic'] }), profiles, 4, {}, { 's1/ens1f0': slots });
  const modules = [mod('a', 0), mod('b', 1)];
  const good = planMachine(m, modules);

  it('lets a valid plan through', () => {
    expect(good.feasible).toBe(true);
    expect(() => assertValidPlans([m], modules, [good], [])).not.toThrow();
  });

  it('refuses a plan whose chain is split off its port, naming the machine and the rule', () => {
    const split = { ...good, paths: [{ ...good.paths[0], hops: good.paths[0].hops.slice(0, 1) }] };
    let err: unknown;
    try {
      assertValidPlans([m], modules, [split], []);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PlanValidationError);
    expect((err as PlanValidationError).code).toBe('invalid_plan');
    expect((err as PlanValidationError).violations[0]).toMatchObject({ systemId: 's1', constraint: 'split_chain' });
  });
});

describe(planPlacement.name, () => {
  const prefix = `ioplane-test-${randomUUID().slice(0, 8)}`;
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const fleetRepo = new RedisFleetRepository(redis, prefix);
  let cacheDir: string;
  let deps: PlannerDeps;
  // zone-a: an X710 host, a ConnectX-7 host with a BlueField-3 (its DPU machine is listed too), a host still Ready; zone-b: one more.
  const machines = fleet()
    .host({ cards: ['nic'] })
    .host({ cards: ['smartnic', 'bluefield-3'] })
    .host({ cards: ['nic'], status: 4, statusName: 'Ready' })
    .host({ cards: ['nic'], zone: 'zone-b' })
    .build();
  const request = (over: Record<string, unknown> = {}) =>
    placementRequestSchema.parse({ selector: { zones: ['zone-a'] }, modules: [{ name: 'ddos-drop' }], ...over });
  const silent = (m: FleetMachine) =>
    Promise.resolve(
      m.systemId === 'h2' ? { ok: false as const, reason: 'agent at http://127.77.1.2:9440 did not answer: ECONNREFUSED' } : null,
    );

  beforeAll(async () => {
    await redis.connect();
    cacheDir = await fsp.mkdtemp('/tmp/ioplane-planner-spec-');
    const catalog = new ModuleCatalog(new RedisModuleRepository(redis, prefix), profiles, { cacheDir, kernel: 'off' });
    deps = { fleet: fleetRepo, catalog, profiles };
    await fleetRepo.replaceInventory(machines);
  });
  afterAll(async () => {
    const keys = await redis.keys(new StateKeys(prefix).pattern);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await fsp.rm(cacheDir, { recursive: true, force: true });
  });

  it('plans every Deployed host the selector matches on its uplink, and names every other with its reason', async () => {
    const plan = await planPlacement('pl-1', request(), { ...deps, agentFacts: silent });
    expect(plan.machines.map((p) => [p.systemId, p.feasible])).toEqual([['h1', true]]);
    expect(plan.machines[0].paths.map((p) => p.hops.map((h) => [h.module, h.interface]))).toEqual([[['ddos-drop', 'ens1f0']]]);
    expect(plan.skipped).toEqual([
      { systemId: 'h3', hostname: 'edge-03', reason: 'MAAS status is Ready, not Deployed' },
      { systemId: 'h2', hostname: 'edge-02', reason: 'agent at http://127.77.1.2:9440 did not answer: ECONNREFUSED' },
    ]);
    expect(plan).toMatchObject({ placementId: 'pl-1', complete: true });
    expect(plan.modules).toEqual([
      expect.objectContaining({ name: 'ddos-drop', chainPosition: 0, digest: expect.stringMatching(/^[0-9a-f]{16,}$/) }),
    ]);
  });

  it('plans a DPU host too when its agent answers, but never the DPU machine itself', async () => {
    const plan = await planPlacement('pl-2', request(), deps);
    expect(plan.machines.map((p) => p.systemId)).toEqual(['h1', 'h2']);
    await expect(planPlacement('pl-3', request({ selector: { tags: ['dpu'] } }), deps)).rejects.toMatchObject({
      code: 'unprocessable',
      field: 'selector',
    });
  });

  it('skips a host where no interface matches the ingress selector', async () => {
    const plan = await planPlacement('pl-4', request({ selector: { hostnames: ['edge-01'] }, ingress: { interfaces: ['ens9f0'] } }), deps);
    expect(plan.machines).toEqual([]);
    expect(plan.skipped).toEqual([
      { systemId: 'h1', hostname: 'edge-01', reason: 'no interface matches the ingress selector {"interfaces":["ens9f0"]}' },
    ]);
  });

  it('refuses a module the catalog does not have, naming the field', async () => {
    const err = await planPlacement('pl-5', request({ modules: [{ name: 'ddos-drop' }, { name: 'nope' }] }), deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlacementInputError);
    expect(err).toMatchObject({ code: 'not_found', field: 'modules.1.name' });
  });
});
