import type { RolloutModule } from './machine.desired';
import { AgentPort, agentFacts, Control, rollBackMachine, RolloutStop, runMachine } from './machine.runbook';
import { MachineRecord, newMachineRecord } from './machine.state';
import { resolveMachine } from './reconcile';
import { StoreUnavailable } from './store.retry';
import { emulatedMachine as machine, firmwareImage, rolloutModule, START, TARGET, wantOf } from './testing/runbook.fixture';

let mod: RolloutModule;
let dispose: () => Promise<void>;

beforeAll(async () => {
  ({ mod, dispose } = await rolloutModule());
}, 120_000);

afterAll(() => dispose?.());

/** The operator's word per step, in order; the last one stays. */
function run(
  m: ReturnType<typeof machine>,
  start: MachineRecord,
  words: Control[],
  acceptNotRun = true,
  module: RolloutModule = mod,
  storeFails: (r: MachineRecord) => boolean = () => false,
) {
  const writes: MachineRecord[] = [];
  // The emulated device here has no kernel: its vectors do not run, which these tests accept explicitly.
  const want = wantOf(module, acceptNotRun);
  let rec = start;
  let n = 0;
  const done = runMachine(start, want, {
    agent: m.agent,
    sign: () => 'sig',
    save: async (r) => {
      if (storeFails(r))
        throw new StoreUnavailable(
          `machine ${r.systemId}`,
          new Error('Reached the max retries per request limit (which is 3). Refer to "maxRetriesPerRequest" option for details.'),
        );
      if (r.generation !== rec.generation) throw new Error('lost');
      rec = { ...r, generation: r.generation + 1 };
      writes.push(rec);
      return rec;
    },
    control: async () => words[Math.min(n++, words.length - 1)],
    firmwareImage,
    probeMs: 5,
  });
  return { done, writes, last: () => rec };
}

describe('machine runbook', () => {
  it('writes each state before its step and ends verified, the old firmware kept for the wave', async () => {
    const m = machine();
    const r = run(m, newMachineRecord('m1', 'h1', 0), ['run']);
    const end = await r.done;
    expect(r.writes.map((w) => w.state)).toEqual(['flashing', 'loading', 'verifying', 'verifying']);
    expect(r.writes[2]).toMatchObject({ flashed: ['m1/nfp0'], loaded: ['m1/nfp0|nic-xdp-offload'], verifiedAt: null });
    expect(end.verifiedAt).not.toBeNull();
    expect(m.nic.inventory().profileId).toBe(TARGET);
    // What the check saw stays on the record: no kernel here, so nothing was sent and the counters say emulated.
    expect(end.probe).toEqual({
      sent: [{ deviceId: 'm1/nfp0', port: 0, interface: null, sent: 0 }],
      hops: [expect.objectContaining({ module: 'vxlan-decap', target: 'nic-xdp-offload', deviceId: 'm1/nfp0', source: 'emulated' })],
    });
  });

  it('a cancel seen before the health check rolls back what it changed', async () => {
    const m = machine();
    // Words: the flash step, the load step, then the health check.
    const r = run(m, newMachineRecord('m1', 'h1', 0), ['run', 'run', 'cancel']);
    const end = await r.done;
    expect(end).toMatchObject({ state: 'rolled-back', verifiedAt: null, code: 'operator' });
    expect((await m.nic.programs()).ports[0].current).toBeNull();
    expect(m.nic.inventory().profileId).toBe(START);
  });

  it('a pause before the health check leaves a record that a resumed job verifies without loading again', async () => {
    const m = machine();
    const first = run(m, newMachineRecord('m1', 'h1', 0), ['run', 'run', 'pause']);
    await expect(first.done).rejects.toBeInstanceOf(RolloutStop);
    expect(first.last()).toMatchObject({ state: 'verifying', loaded: ['m1/nfp0|nic-xdp-offload'], verifiedAt: null });
    const again = run(m, first.last(), ['run']);
    expect((await again.done).verifiedAt).not.toBeNull();
    expect(again.writes.map((w) => w.state)).toEqual(['verifying', 'verifying']);
    expect(m.loads).toEqual(['vxlan-decap']);
  });

  it('vectors that could not run are never a pass: the health check fails with the reason unless the policy accepts not-run', async () => {
    const m = machine();
    const r = run(m, newMachineRecord('m1', 'h1', 0), ['run'], false);
    const out = await r.done.then(
      (x) => x.reason ?? 'no reason',
      (e: Error) => e.message,
    );
    expect(out).toMatch(/verify m1\/nfp0: test vectors not run: vxlan-decap\/.*not run: /);
    expect(r.last().verifiedAt ?? null).toBeNull();
    expect(r.last()).toMatchObject({ state: 'rolled-back', code: 'health' });
  });

  it('counters a model made (no kernel: no probe packet crossed the hop) are a probe not run: failed unless the policy accepts not-run', async () => {
    const quiet = { ...mod, vectors: [] };
    const refused = run(machine(), newMachineRecord('m1', 'h1', 0), ['run'], false, quiet);
    const out = await refused.done.then(
      (x) => x.reason ?? 'no reason',
      (e: Error) => e.message,
    );
    expect(out).toMatch(/verify m1\/nfp0: probe not run: vxlan-decap \(nic-xdp-offload on m1\/nfp0\) counted by a model/);
    expect(refused.last().verifiedAt ?? null).toBeNull();
    // Accepted in so many words: the machine is verified, and the record still says what counted (a model).
    const accepted = await run(machine(), newMachineRecord('m1', 'h1', 0), ['run'], true, quiet).done;
    expect(accepted.verifiedAt).not.toBeNull();
    expect(accepted.probe?.hops).toEqual([expect.objectContaining({ module: 'vxlan-decap', source: 'emulated' })]);
  });

  it('a state write the store refused is no step failure: the job fails without a rollback, and the resumed job records the load as its own', async () => {
    const m = machine();
    const first = run(m, newMachineRecord('m1', 'h1', 0), ['run'], true, mod, (r) => r.state === 'verifying');
    await expect(first.done).rejects.toBeInstanceOf(StoreUnavailable);
    // The load's note rode on the write that failed: the record says loading, with nothing loaded.
    expect(first.last()).toMatchObject({ state: 'loading', loaded: [] });
    expect(first.writes.map((w) => w.state)).toEqual(['flashing', 'loading']);
    // Nothing rolled back: the agent runs the new chain, uncommitted, on the new firmware.
    expect((await m.nic.programs()).ports[0].current).toMatchObject({
      committed: false,
      modules: [expect.objectContaining({ name: 'vxlan-decap' })],
    });
    expect(m.nic.inventory().profileId).toBe(TARGET);
    const again = run(m, first.last(), ['run']);
    const end = await again.done;
    expect(end).toMatchObject({ state: 'verifying', loaded: ['m1/nfp0|nic-xdp-offload'] });
    expect(end.verifiedAt).not.toBeNull();
    expect(m.loads).toEqual(['vxlan-decap', 'vxlan-decap']);
  });

  it('a load the agent did not answer in time is unknown, neither done nor rolled back', async () => {
    const m = machine();
    const slow = {
      ...m,
      agent: {
        ...m.agent,
        load: async () =>
          Promise.reject(Object.assign(new Error('agent did not answer POST /load within 10 ms'), { code: 'agent_timeout', status: 504 })),
      },
    };
    const r = run(slow, newMachineRecord('m1', 'h1', 0), ['run']);
    const end = await r.done;
    expect(end).toMatchObject({
      state: 'unknown',
      verifiedAt: null,
      code: 'agent-timeout',
      reason: expect.stringMatching(/^outcome unknown: agent did not answer/),
    });
    expect(r.writes.map((w) => w.state)).toEqual(['flashing', 'loading', 'unknown']);
    // The flash stays: the reconciler decides with the agent's report.
    expect(m.nic.inventory().profileId).toBe(TARGET);
  });

  it('an agent that dies during the health check leaves the machine rolling-back, not failed, and the reconciler restores it once the agent answers', async () => {
    const m = machine();
    // The connection drops as a dead agent's does: no answer, only the socket's error.
    const gone = () =>
      Promise.reject(
        Object.assign(new Error('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }),
      );
    let alive = true;
    const dying = {
      ...m,
      agent: {
        ...m.agent,
        runVectors: () => ((alive = false), gone()),
        rollback: (...a: Parameters<AgentPort['rollback']>) => (alive ? m.agent.rollback(...a) : gone()),
        programs: () => (alive ? m.agent.programs() : gone()),
      },
    };
    const r = run(dying, newMachineRecord('m1', 'h1', 0), ['run']);
    const end = await r.done;
    expect(end).toMatchObject({ state: 'rolling-back', verifiedAt: null, code: 'agent-unreachable' });
    expect(end.reason).toMatch(/; rollback not confirmed: fetch failed$/);
    expect(r.writes.map((w) => w.state)).toEqual(['flashing', 'loading', 'verifying', 'rolling-back', 'rolling-back']);
    // Nothing was undone: the agent still runs the new chain, uncommitted, on the new firmware.
    expect((await m.nic.programs()).ports[0].current).toMatchObject({ committed: false });
    expect(m.nic.inventory().profileId).toBe(TARGET);

    // A reconcile pass while the agent is still gone keeps it rolling-back, the reason not piling up.
    const want = wantOf(mod);
    let rec = end;
    const save = async (x: MachineRecord) => (rec = { ...x, generation: x.generation + 1 });
    const failure = { code: 'outcome-unknown' as const, message: `resolved from the agent: ${rec.reason}` };
    rec = await rollBackMachine(rec, want, { agent: dying.agent, save }, failure);
    expect(rec.state).toBe('rolling-back');
    expect(rec.reason!.match(/rollback not confirmed/g)).toHaveLength(1);

    // The agent is back: the reconciler's decision is a restore, which puts the old chain and firmware back.
    alive = true;
    const decision = resolveMachine(rec, await agentFacts(m.agent, want), false);
    expect(decision).toMatchObject({ action: 'restore' });
    rec = await rollBackMachine(rec, want, { agent: m.agent, save }, failure);
    expect(rec.state).toBe('rolled-back');
    expect((await m.nic.programs()).ports[0].current).toBeNull();
    expect(m.nic.inventory().profileId).toBe(START);
  });

  it('a failed step is rolled back with the code of its kind, whatever its message says', async () => {
    const flashFails = machine();
    const fellBack = {
      ...flashFails,
      agent: {
        ...flashFails.agent,
        flash: async (d: string, b: Parameters<typeof flashFails.agent.flash>[1]) => ({
          ...(await flashFails.agent.flash(d, b)),
          status: 'fell_back' as const,
          reason: 'verify failed on load',
        }),
      },
    };
    expect(await run(fellBack, newMachineRecord('m1', 'h1', 0), ['run']).done).toMatchObject({ state: 'rolled-back', code: 'flash' });

    // The agent's own code decides where it has one: a refused signature, not a failed load.
    const badSig = machine();
    const refused = {
      ...badSig,
      agent: {
        ...badSig.agent,
        load: async () => Promise.reject(Object.assign(new Error('flash image rejected'), { code: 'bad_signature', status: 422 })),
      },
    };
    expect(await run(refused, newMachineRecord('m1', 'h1', 0), ['run']).done).toMatchObject({ state: 'rolled-back', code: 'signature' });

    // Any other refusal of a load is a load failure, even one whose message talks of flashing.
    const full = machine();
    const slots = {
      ...full,
      agent: {
        ...full.agent,
        load: async () => Promise.reject(Object.assign(new Error('no slot left after flash'), { code: 'slot_limit', status: 422 })),
      },
    };
    expect(await run(slots, newMachineRecord('m1', 'h1', 0), ['run']).done).toMatchObject({ state: 'rolled-back', code: 'load' });
  });
});
