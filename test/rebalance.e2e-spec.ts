import { StateKeys } from '@ioplane/state';
import { Queue } from 'bullmq';
import { JOBS, QUEUES, queuePrefix, workerConnection } from '@ioplane/queue';
import type { Proposal } from '@ioplane/rebalance';
import type { ObservedPlacement } from '@ioplane/state';
import { loadScenario, ScenarioPlayer } from '../apps/fleet-sim/src';
import { Harness, hostId, http, runCli, startHarness, syncFleet, until, waitStatus } from './harness';

const KEEP_WINDOWS = 6;
const BF3 = 'nvidia-bluefield-3-32.39';
const HOSTS = ['core-c01', 'core-c02', 'core-c03', 'edge-b05'];

/**
 * Rebalancing on the real stack: simulator agents with emulated counters, the worker's telemetry
 * and decision jobs on real Redis, driven one window at a time by the test (no schedules).
 */
describe('rebalance: telemetry, hysteresis, propose and auto moves through the normal pipeline', () => {
  let h: Harness;
  let queue: Queue;
  const savedEnv = process.env.IOPLANE_TELEMETRY_WINDOWS;
  let jobs = 0;

  beforeAll(async () => {
    process.env.IOPLANE_TELEMETRY_WINDOWS = String(KEEP_WINDOWS);
    h = await startHarness();
    queue = new Queue(QUEUES.rebalance, { connection: workerConnection(h.config.REDIS_URL!), prefix: queuePrefix(h.config.IOPLANE_PREFIX) });
    await syncFleet(h);
    // ddos-drop at 1,000 pps on the BlueField's host port: generic XDP on that netdev is cheapest
    // (the DPU's Arm path adds a microsecond more for a saving of about a thousandth of a core).
    // The host's share scales with the kernel-measured ns/packet plus the profile's receive and
    // skb costs; at this rate the two cross near 900 ns per packet, far above what even a busy
    // machine measures, so the outcome does not hang on the timing; at the 20 Mpps surge the Arm
    // path wins whatever is measured.
    const res = await http(h.apiUrl, 'POST', '/v1/placements', {
      selector: { hostnames: HOSTS },
      // Traffic enters through the BlueField: only a port the DPU sits in front of can move there.
      ingress: { interfaces: ['ens2f0np0'] },
      modules: [{ name: 'ddos-drop', prefer: 'auto', latencyBudgetUs: 20, traffic: { pps: 1_000, meanPacketBytes: 128 } }],
      // Emulated counters (no kernel on the agents): the probe cannot run, which the placement accepts explicitly.
      policy: { hostCoreBudget: 4, rollout: { canary: 1, waves: [100], maxUnavailable: 4, failureThreshold: 0.5 }, acceptNotRun: true },
    });
    expect(res.status).toBe(202);
    expect((await waitStatus(h, res.body.id, ['completed', 'failed', 'infeasible'])).status).toBe('completed');
  }, 120_000);

  afterAll(async () => {
    if (savedEnv === undefined) delete process.env.IOPLANE_TELEMETRY_WINDOWS;
    else process.env.IOPLANE_TELEMETRY_WINDOWS = savedEnv;
    await queue?.close();
    await h?.stop();
  });

  async function run(name: string, data: unknown): Promise<any> {
    const id = `t${++jobs}`;
    await queue.add(name, data, { jobId: id });
    // Polled tightly: the time between a sample and the next step's traffic is part of a window.
    let job = null;
    for (const end = Date.now() + 30_000; !job; await new Promise((r) => setTimeout(r, 5))) {
      const state = await (await queue.getJob(id))?.getState();
      // Read again once finished: a job fetched while active carries no return value.
      if (state === 'completed' || state === 'failed') job = await queue.getJob(id);
      if (Date.now() > end) throw new Error(`${name} job ${id} did not finish`);
    }
    if (!job) throw new Error(`job ${id} vanished`);
    if (job.failedReason) throw new Error(`${name} failed: ${job.failedReason}`);
    return job.returnvalue;
  }

  /**
   * One window per scenario step: traffic flows for `windowMs`, the window is sampled, the next
   * step's traffic is set at once, then the decision round runs. The change still lands a little
   * after the sample (the sample job's own time and the change's), so a window carries a tail of
   * the step before: a test that needs steps apart makes its windows long against that tail.
   */
  async function steps(player: ScenarioPlayer, list: number[], windowMs = 200): Promise<any[]> {
    const out = [];
    await player.apply(list[0]);
    for (let i = 0; i < list.length; i++) {
      await new Promise((r) => setTimeout(r, windowMs));
      const sample = await run(JOBS.telemetrySample, { decide: false });
      expect(sample.errors).toEqual([]);
      if (i + 1 < list.length) await player.apply(list[i + 1]);
      out.push(await run(JOBS.rebalanceDecide, { window: sample.window }));
    }
    return out;
  }
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

  const player = (file: string) => new ScenarioPlayer(loadScenario(file), { store: h.sim.store, agents: h.sim.agents, url: h.sim.url, apiKey: h.sim.apiKey });
  const observed = async (hostname: string) => JSON.parse((await h.redis.hget(new StateKeys(h.config.IOPLANE_PREFIX).observed, hostId(h, hostname)))!) as ObservedPlacement;
  const ddosOn = async (hostname: string) => (await observed(hostname)).modules.find((m) => m.name === 'ddos-drop')!;
  const bf3Of = async (hostname: string) => ((await http(h.apiUrl, 'GET', `/v1/fleet/machines/${hostId(h, hostname)}`)).body.devices as Array<{ id: string; profileId: string | null }>).find((d) => d.profileId === BF3)!.id;
  const proposals = async (q = '') => (await http<{ items: Proposal[] }>(h.apiUrl, 'GET', `/v1/rebalance/proposals${q}`)).body.items;

  it('refuses a policy with a bad field, naming it', async () => {
    const bad = await http(h.apiUrl, 'PUT', '/v1/rebalance/policy', { rules: [{ selector: { zones: ['zone-c'] }, mode: 'auto', windows: 0 }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'validation', field: 'rules.0.windows' });
    const set = await runCli(['--api', h.apiUrl, 'rebalance', 'policy', '--mode', 'propose', '--zones', 'zone-a', '--margin', '0.3']);
    expect(set.stdout).toBe('1. zones=zone-a: propose, margin 30% and 0.05 hce, 3 windows, cool-down 30 windows\n');
    const refused = await runCli(['--api', h.apiUrl, 'rebalance', 'policy', '--mode', 'auto', '--zones', 'zone-a', '--windows', '0']);
    expect({ code: refused.code, stderr: refused.stderr }).toEqual({ code: 1, stderr: 'ioplane: --windows: must be at least 1\n' });
    expect((await http(h.apiUrl, 'GET', '/v1/rebalance/policy')).body.rules).toHaveLength(1);
  });

  it('a 20000x ddos-drop surge on zone-c: auto moves it host -> BlueField-3 Arm after the hysteresis; propose leaves a pending proposal', async () => {
    for (const host of ['core-c01', 'core-c02', 'core-c03']) expect(await ddosOn(host)).toMatchObject({ target: 'host-xdp-generic' });
    const policy = await http(h.apiUrl, 'PUT', '/v1/rebalance/policy', {
      rules: [
        { selector: { hostnames: ['core-c03'] }, mode: 'propose', windows: 3, cooldownWindows: 20 },
        { selector: { zones: ['zone-c'] }, mode: 'auto', windows: 3, cooldownWindows: 20 },
      ],
    });
    expect(policy.status).toBe(200);
    const surge = player('scenarios/ddos-surge.yaml');
    const before = { c01: await ddosOn('core-c01'), c03: await ddosOn('core-c03') };
    // The surge starts at step 5; with 3 windows of hysteresis the move comes at step 7, or at
    // step 8 when the first surge window is diluted by the last calm moments (hysteresis + 1).
    const results = await steps(surge, range(0, 8));
    const first = results.findIndex((r) => r.proposals.length > 0);
    expect([7, 8]).toContain(first);
    expect(results[first - 1].verdicts.building).toEqual(['core-c01', 'core-c02', 'core-c03']);
    const last = results[first];
    expect(last.proposals.sort()).toEqual(['core-c01', 'core-c02', 'core-c03'].map((n) => `rb-${last.window}-${hostId(h, n)}`).sort());
    expect(last.submitted).toHaveLength(1);

    // propose: core-c03 waits for an operator, with the move and its reasons.
    const [pending] = await proposals('?status=pending');
    expect(pending).toMatchObject({ hostname: 'core-c03', mode: 'propose', status: 'pending', placementId: null });
    // Generic XDP runs on the BlueField's host netdev (its host-XDP device); the move names the card that owns the netdev.
    expect(pending.moves).toEqual([{ module: 'ddos-drop', from: { deviceId: await bf3Of('core-c03'), target: 'host-xdp-generic' }, to: { deviceId: await bf3Of('core-c03'), target: 'dpu-arm-xdp', profileId: BF3 } }]);
    expect(pending.reasons.observed['ddos-drop'].pps).toBeGreaterThan(15_000_000);
    expect(pending.reasons.gain).toBeGreaterThan(0.05);
    expect(pending.reasons.currentCost - pending.reasons.proposedCost).toBeGreaterThan(pending.reasons.gain);
    expect(pending.reasons.hostCores.proposed).toBe(0);
    expect(pending.reasons.whyNow).toContain('for 3 consecutive windows');

    // auto: one rebalance placement for core-c01 and core-c02, rolled out through the pipeline.
    const auto = (await proposals('?status=submitted')).filter((p) => p.mode === 'auto');
    expect(auto.map((p) => p.hostname).sort()).toEqual(['core-c01', 'core-c02']);
    const placementId = last.submitted[0];
    expect(auto.every((p) => p.placementId === placementId)).toBe(true);
    const done = await waitStatus(h, placementId, ['completed', 'failed', 'infeasible', 'cancelled']);
    expect(done).toMatchObject({ status: 'completed', reason: 'rebalance' });
    expect(done.request.selector).toEqual({ hostnames: ['core-c01', 'core-c02'] });
    for (const host of ['core-c01', 'core-c02']) {
      expect(await ddosOn(host)).toMatchObject({ deviceId: await bf3Of(host), target: 'dpu-arm-xdp' });
      expect((await observed(host)).placementId).toBe(placementId);
      // The move leaves no old copy: ddos-drop runs on the DPU only.
      const programs = await h.agent(hostId(h, host)).programs();
      const runningDdos = programs.devices.flatMap((d) => d.ports.filter((p) => p.current?.modules.some((m) => m.name === 'ddos-drop')).map(() => d.deviceId));
      expect(runningDdos).toEqual([await bf3Of(host)]);
    }
    expect(await ddosOn('core-c03')).toMatchObject({ deviceId: before.c03.deviceId, target: 'host-xdp-generic' });
    expect(before.c01.target).toBe('host-xdp-generic');

    // The operator approves core-c03's proposal from the CLI; it rolls out the same way.
    const cli = await runCli(['--api', h.apiUrl, 'rebalance', 'approve', pending.id]);
    expect(cli.stderr).toBe('');
    const approved = (await http<Proposal>(h.apiUrl, 'GET', `/v1/rebalance/proposals/${pending.id}`)).body;
    expect(approved).toMatchObject({ status: 'submitted', decidedBy: 'operator' });
    expect((await waitStatus(h, approved.placementId!, ['completed', 'failed', 'infeasible', 'cancelled'])).status).toBe('completed');
    expect(await ddosOn('core-c03')).toMatchObject({ deviceId: await bf3Of('core-c03'), target: 'dpu-arm-xdp' });

    // The surge goes on and then ends: nothing moves again (on the DPU, the way back does not pay).
    const after = await steps(surge, [9, 10, 23, 24, 25, 26]);
    expect(after.flatMap((r) => r.proposals)).toEqual([]);
    const ls = await runCli(['--api', h.apiUrl, 'rebalance', 'ls', '-v']);
    expect(ls.stdout).toContain('core-c03');
    expect(ls.stdout).toContain('why now:');
  }, 180_000);

  it('an oscillating load faster than the hysteresis moves nothing', async () => {
    // A low window keeps a tail of the high step before it (the change lands after the sample): with
    // 3 s windows that tail is a few percent of the window, worth well under the 0.3 hce minimum
    // gain, while a high window's gain is about 2 hce.
    await http(h.apiUrl, 'PUT', '/v1/rebalance/policy', { rules: [{ selector: { hostnames: ['edge-b05'] }, mode: 'auto', windows: 3, cooldownWindows: 20, minGainHce: 0.3 }] });
    const osc = player('scenarios/ddos-oscillate.yaml');
    const start = await ddosOn('edge-b05');
    const verdicts: string[] = [];
    for (const r of await steps(osc, range(0, 11), 3_000)) {
      expect(r.proposals).toEqual([]);
      verdicts.push(Object.entries(r.verdicts as Record<string, string[]>).find(([, hosts]) => hosts.includes('edge-b05'))![0]);
    }
    // High windows build at most one window of evidence before a low one resets it.
    expect(verdicts.filter((v) => v === 'building').length).toBeGreaterThan(3);
    expect(verdicts).not.toContain('propose');
    expect(await ddosOn('edge-b05')).toEqual(start);
    expect((await proposals()).filter((p) => p.hostname === 'edge-b05')).toEqual([]);
  }, 240_000);

  it('a machine released from MAAS mid-scenario is dropped: its proposal, state and telemetry go', async () => {
    // Long windows and a 0.3 hce minimum gain, as above: the calm first step must not count the
    // tail of the traffic the test before left running.
    await http(h.apiUrl, 'PUT', '/v1/rebalance/policy', { rules: [{ selector: { hostnames: ['edge-b05'] }, mode: 'propose', windows: 3, cooldownWindows: 20, minGainHce: 0.3 }] });
    const sc = player('scenarios/surge-and-leave.yaml');
    const id = hostId(h, 'edge-b05');
    const rounds = await steps(sc, range(0, 3), 3_000);
    const proposalId = rounds[3].proposals[0];
    expect(rounds.slice(0, 3).flatMap((r) => r.proposals)).toEqual([]);
    expect(proposalId).toBe(`rb-${(await h.redis.get(`${h.keys.base}:telemetry:window`))}-${id}`);
    expect(await h.redis.exists(`${h.keys.base}:telemetry:${id}:windows`)).toBe(1);
    const report = await sc.apply(4);
    expect(report.released).toEqual(['edge-b05']);
    await until('edge-b05 released', async () => h.sim.store.get(id).status !== 6 && !h.sim.store.hasPending(h.sim.store.get(id)));
    await syncFleet(h);
    const [r, later] = await steps(sc, [5, 6]);
    expect(r.dropped).toEqual([id]);
    expect((await http<Proposal>(h.apiUrl, 'GET', `/v1/rebalance/proposals/${proposalId}`)).body).toMatchObject({ status: 'dropped', decidedBy: 'rebalancer' });
    expect(await h.redis.keys(`${h.keys.base}:telemetry:${id}:*`)).toEqual([]);
    expect(await h.redis.hexists(`${h.keys.base}:rebalance:state`, id)).toBe(0);
    expect(await h.redis.sismember(`${h.keys.base}:telemetry:machines`, id)).toBe(0);
    // Later rounds go on without it.
    expect(later.dropped).toEqual([]);
  }, 120_000);

  it('keeps telemetry memory bounded however long the scenario runs', async () => {
    const p = h.keys.base;
    for (let i = 0; i < 2 * KEEP_WINDOWS; i++) await run(JOBS.telemetrySample, { decide: false });
    const window = Number(await h.redis.get(`${p}:telemetry:window`));
    expect(window).toBeGreaterThan(4 * KEEP_WINDOWS);
    const machines = await h.redis.smembers(`${p}:telemetry:machines`);
    const keys = await h.redis.keys(`${p}:telemetry:*`);
    // Per machine a capped list and one snapshot, plus the window counter and the machine set.
    expect(keys.length).toBe(2 * machines.length + 2);
    for (const id of machines) {
      expect(await h.redis.llen(`${p}:telemetry:${id}:windows`)).toBe(KEEP_WINDOWS);
      expect(await h.redis.ttl(`${p}:telemetry:${id}:windows`)).toBeGreaterThan(0);
    }
  }, 120_000);
});
