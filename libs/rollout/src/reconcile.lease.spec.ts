import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { RolloutRepository, StateKeys } from '@ioplane/state';
import type { AgentPort } from './machine.runbook';
import { MachineRecord, newMachineRecord } from './machine.state';
import { MachineFence, RolloutOrchestrator, UnresolvedMachines } from './rollout.orchestrator';

const PLACEMENT = 'pl-r';
const M = 'm1';
const never = async () => false;

/** An agent that runs nothing of the placement, its reads held until the test lets them go. */
function agent(gate: Promise<void> = Promise.resolve()) {
  const calls: string[] = [];
  const a = {
    inventory: async () => (
      calls.push('inventory'),
      await gate,
      { agentId: M, hostname: 'h1', mode: 'emulated', modeReason: null, devices: [] }
    ),
    programs: async () => (calls.push('programs'), await gate, { devices: [] }),
  } as unknown as AgentPort;
  return { agent: a, calls };
}

// Real Redis: REDIS_URL, or the server test/global-setup.ts spawned.
describe('the reconciler writes under the machine lease', () => {
  const prefix = `ioplane-test-${randomUUID().slice(0, 8)}`;
  const redis = new Redis(process.env.REDIS_URL!, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const repo = new RolloutRepository(redis, prefix);

  /** The orchestrator as the worker wires it, the reconciler's hold lasting `holdMs`, a held lease waited out for at most 300 ms. */
  function sut(port: AgentPort, holdMs = 60_000) {
    return new RolloutOrchestrator({
      store: repo,
      agentFor: async () => port,
      sign: () => 'sig',
      firmwareImage: () => {
        throw new Error('no firmware in this spec');
      },
      desired: async (_p, systemId) => ({ systemId, hostname: 'h1', flashes: [], chains: [] }),
      onCommitted: async () => undefined,
      leases: {
        async acquire(placementId, systemId, holder): Promise<MachineFence> {
          const end = Date.now() + 300;
          for (;;) {
            const r = await repo.acquireLease(systemId, placementId, holder, holdMs, never);
            if (r.ok) return r.fence;
            if (Date.now() > end) throw new Error(`machine ${systemId} is still held by ${r.holder}`);
            await new Promise((res) => setTimeout(res, 20));
          }
        },
        letGo: (fence) => repo.letGoLease(fence),
      },
      storeRetry: { budgetMs: 200 },
    });
  }

  beforeAll(() => redis.connect());
  beforeEach(async () => {
    const keys = await redis.keys(new StateKeys(prefix).pattern);
    if (keys.length) await redis.del(...keys);
    await repo.claimMachines(PLACEMENT, [M], never);
    await repo.initMachines(PLACEMENT, [
      { ...newMachineRecord(M, 'h1', 0), state: 'unknown', reason: 'outcome unknown: agent timeout' } as MachineRecord,
    ]);
  });
  afterAll(async () => {
    const keys = await redis.keys(new StateKeys(prefix).pattern);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('leaves a machine alone while a job of its placement holds it: nothing asked, nothing written, the job writes on', async () => {
    const job = await repo.acquireLease(M, PLACEMENT, `${PLACEMENT}.m.${M}`, 60_000, never);
    if (!job.ok) throw new Error('the job could not take the machine');
    const before = (await repo.machine<MachineRecord>(PLACEMENT, M))!;
    const a = agent();

    const r = await sut(a.agent).reconcile(PLACEMENT, never);

    expect({ resolved: r.resolved, unresolved: r.unresolved.map((u) => u.systemId), calls: a.calls }).toEqual({
      resolved: [],
      unresolved: [M],
      calls: [],
    });
    expect(await repo.machine(PLACEMENT, M)).toEqual(before);
    // The holder's own write goes through: the reconciler took nothing from it.
    expect(await repo.saveMachine(PLACEMENT, { ...before, state: 'committed' }, job.fence)).toMatchObject({
      state: 'committed',
      generation: before.generation + 1,
    });
  });

  it('writes nothing once its hold was taken over while it asked the agent (a resumed job now holds the machine)', async () => {
    let open!: () => void;
    const a = agent(new Promise<void>((r) => (open = r)));
    // The reconciler's hold lasts 50 ms: it runs out while the agent keeps it waiting.
    const running = sut(a.agent, 50).reconcile(PLACEMENT, never);
    await until(() => a.calls.length > 0);
    await new Promise((r) => setTimeout(r, 80));
    const job = await repo.acquireLease(M, PLACEMENT, `${PLACEMENT}.m.${M}`, 60_000, never);
    if (!job.ok) throw new Error('the resumed job could not take the machine over');
    const before = (await repo.machine<MachineRecord>(PLACEMENT, M))!;
    open();

    const r = await running;

    expect(r.resolved).toEqual([]);
    expect(await repo.machine(PLACEMENT, M)).toEqual(before);
    expect(await repo.saveMachine(PLACEMENT, { ...before, state: 'committed' }, job.fence)).toMatchObject({ state: 'committed' });
  });

  it('a second pass leaves the machine to the pass still resolving it (each pass holds under its own name)', async () => {
    let open!: () => void;
    const a = agent(new Promise<void>((r) => (open = r)));
    const orchestrator = sut(a.agent);
    const first = orchestrator.reconcile(PLACEMENT, never);
    await until(() => a.calls.length === 2);

    const second = await orchestrator.reconcile(PLACEMENT, never);
    expect({ unresolved: second.unresolved.map((u) => u.systemId), calls: a.calls.length }).toEqual({ unresolved: [M], calls: 2 });
    open();
    expect((await first).resolved.map((x) => x.state)).toEqual(['rolled-back']);
  });

  it("a verified machine whose agent does not answer the wave's commit is unknown, the last wave unresolved, then restored once the agent answers", async () => {
    const verified = (await repo.machine<MachineRecord>(PLACEMENT, M))!;
    await repo.saveMachine(PLACEMENT, { ...verified, state: 'verifying', reason: null, verifiedAt: new Date().toISOString() });
    const plan = {
      placementId: PLACEMENT,
      waves: [{ index: 0, machines: [M] }],
      policy: { canary: 0, waves: [100], maxUnavailable: 1, failureThreshold: 1 },
    };
    // A dead agent: the connection is refused, nothing answers.
    const refused = () =>
      Promise.reject(
        Object.assign(new Error('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }),
      );
    const dead = { inventory: refused, programs: refused } as unknown as AgentPort;

    await expect(sut(dead).finishWave(PLACEMENT, 0, plan)).rejects.toBeInstanceOf(UnresolvedMachines);
    expect(await repo.machine(PLACEMENT, M)).toMatchObject({
      state: 'unknown',
      verifiedAt: null,
      code: 'agent-unreachable',
      reason: 'outcome unknown: commit not confirmed: fetch failed',
    });

    // Back, and running nothing of the placement: the commit never reached it, the old chain is in place.
    const back = await sut(agent().agent).finishWave(PLACEMENT, 0, plan);
    expect(back).toMatchObject({ result: 'completed', failed: 1 });
    expect(await repo.machine(PLACEMENT, M)).toMatchObject({ state: 'rolled-back', code: 'outcome-unknown' });
  });

  it('resolves the machine when nobody holds it, and gives the hold back', async () => {
    const r = await sut(agent().agent).reconcile(PLACEMENT, never);
    expect(r.resolved.map((x) => x.state)).toEqual(['rolled-back']);
    expect(await repo.lease(M)).toMatchObject({ owner: PLACEMENT, holder: null });
  });
});

async function until(probe: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}
