import { execFileSync } from 'node:child_process';
import { StateKeys } from '@ioplane/state';
import { Queue } from 'bullmq';
import { describeKernel } from '@ioplane/compiler/testing';
import { JOBS, QUEUES, queuePrefix, workerConnection } from '@ioplane/queue';
import type { Proposal, TelemetryWindow } from '@ioplane/rebalance';
import type { ObservedPlacement } from '@ioplane/state';
import { buildOAuthHeader, loadScenario, ScenarioPlayer, STATUS, trafficAt, type Scenario } from '../apps/fleet-sim/src';
import { Harness, hostId, http, runCli, startHarness, syncFleet, until, waitStatus } from './harness';

const KEEP_WINDOWS = 6;
const BF3 = 'nvidia-bluefield-3-32.39';
const HOSTS = ['core-c01', 'core-c02', 'core-c03', 'edge-b05'];
/** The BlueField's port: traffic enters there, so the DPU sits in front of it. */
const PORT = 'ens2f0np0';
/**
 * ddos-drop's host cost, pinned: the scenarios play real packets at 10^4 times less than the
 * emulated ones did (2,000 pps for a 20 Mpps surge), so the module's cost per packet is 10^4
 * times a real one (200 ns), and the core figures the rebalancer weighs stay those of the 20 Mpps
 * surge (4 host cores, or 10 of the BlueField's 16 Arm cores). Pinned, the decision does not hang
 * on what BPF_PROG_TEST_RUN measures on a busy machine. With it, at the BlueField: the move to the
 * Arm cores pays (gain over 0.05 hce and 20%) from about 101 pps; the scenarios' calm is 20 pps,
 * their surge 2,000 pps, so a surge window may take up to 20 times its sending time before its
 * rate falls below the crossing (a busy 2-core machine measured 2 to 5 times).
 */
const PINNED_NS = 2_000_000;
/** The crossing above, with room: what a surge window must measure at least. */
const CROSSING_PPS = 105;
/** Each window carries exactly its step's packets: rate x this, paced at the rate. */
const WINDOW_S = 2;

/**
 * Rebalancing on a packet-true fleet: every host and DPU agent is the production agent running as
 * a process in its machine's namespace, with real XDP; traffic is real packets sent at each
 * machine's wire by the simulator (`/sim/traffic`), counted by the chains' counters; the worker's
 * telemetry and decision jobs run on real Redis, one window at a time, driven by the test.
 * Each window holds exactly the packets of its step (sent in full, then sampled), so which window
 * a surge starts in and how many windows it lasts are counts, never a race with the clock; the
 * rates measured over a window only have to land on the right side of a crossing ten times
 * below the surge and ten times above the calm.
 */
describeKernel('rebalance: telemetry, hysteresis, propose and auto moves through the normal pipeline', (itKernel) => {
  let h: Harness;
  let queue: Queue;
  const savedEnv = process.env.IOPLANE_TELEMETRY_WINDOWS;
  let jobs = 0;

  beforeAll(async () => {
    // A kernel-backed test: where the kernel cannot run it, describeKernel skips it, or fails it under IOPLANE_REQUIRE_KERNEL=1.
    if (process.getuid?.() !== 0) return;
    process.env.IOPLANE_TELEMETRY_WINDOWS = String(KEEP_WINDOWS);
    h = await startHarness({ agents: { kernel: 'auto', timeScale: 0.002 } });
    queue = new Queue(QUEUES.rebalance, {
      connection: workerConnection(h.config.REDIS_URL!),
      prefix: queuePrefix(h.config.IOPLANE_PREFIX),
    });
    await syncFleet(h);
    await pinCost('ddos-drop', PINNED_NS);
    // ddos-drop declared at 1 pps on the BlueField's host port: generic XDP on that netdev is
    // cheapest (the DPU's Arm path adds a microsecond of latency, worth more than the cores it
    // saves below about 1.3 pps at the pinned cost).
    const res = await http(h.apiUrl, 'POST', '/v1/placements', {
      selector: { hostnames: HOSTS },
      // Traffic enters through the BlueField: only a port the DPU sits in front of can move there.
      ingress: { interfaces: [PORT] },
      modules: [{ name: 'ddos-drop', prefer: 'auto', latencyBudgetUs: 20, traffic: { pps: 1, meanPacketBytes: 128 } }],
      // Real agents: the health check's probe crosses each machine's path and is counted by the chain; nothing is accepted unrun.
      policy: { hostCoreBudget: 8, rollout: { canary: 1, waves: [100], maxUnavailable: 4, failureThreshold: 0.5 } },
    });
    expect(res.status).toBe(202);
    const done = await waitStatus(h, res.body.id, ['completed', 'failed', 'infeasible']);
    expect({
      status: done.status,
      machines: done.rollout.machines.map((m: { state: string; reason: string | null }) => `${m.state} ${m.reason ?? ''}`),
    }).toEqual({ status: 'completed', machines: HOSTS.map(() => 'committed ') });
  }, 900_000);

  afterAll(async () => {
    if (h) await wire('DELETE', '/sim/traffic').catch(() => undefined);
    if (savedEnv === undefined) delete process.env.IOPLANE_TELEMETRY_WINDOWS;
    else process.env.IOPLANE_TELEMETRY_WINDOWS = savedEnv;
    await queue?.close();
    await h?.stop();
  }, 120_000);

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

  /** The simulator's operator API (same OAuth as MAAS). */
  async function wire(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(new URL(path, h.sim.url), {
      method,
      headers: { authorization: buildOAuthHeader(h.sim.apiKey), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  }

  /**
   * A step's traffic as real packets: each deployed host the scenario names gets exactly rate x
   * WINDOW_S packets at its port's wire, paced at the rate, all hosts at once; resolves when every
   * packet is sent. A released machine has no wire: it gets nothing, as a machine that is off.
   */
  async function sendStep(sc: Scenario, step: number): Promise<Record<string, number>> {
    const sent: Record<string, number> = {};
    await Promise.all(
      HOSTS.map(async (hostname) => {
        const m = h.sim.store.get(hostId(h, hostname));
        const pps = trafficAt(sc, { hostname, zone: m.zone, pool: m.pool, tags: [...m.tags] }, step)['ddos-drop'];
        if (!pps || m.status !== STATUS.DEPLOYED) return;
        const packets = Math.round(pps * WINDOW_S);
        const r = await wire('PUT', `/sim/traffic/${m.systemId}/${PORT}`, { pps, packets });
        expect({ status: r.status, sent: r.body.sent }).toEqual({ status: 200, sent: packets });
        sent[hostname] = packets;
      }),
    );
    return sent;
  }

  /**
   * One window per scenario step: the step's packets are sent, the window is sampled, then the
   * decision round runs. Nothing is sent between windows, so a window counts its own step's
   * packets and no tail of another's.
   */
  async function steps(sc: Scenario, list: number[]): Promise<any[]> {
    const out = [];
    for (const step of list) {
      await sendStep(sc, step);
      const sample = await run(JOBS.telemetrySample, { decide: false });
      expect(sample.errors).toEqual([]);
      out.push(await run(JOBS.rebalanceDecide, { window: sample.window }));
    }
    return out;
  }
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

  /** Plays the scenario's events (releases) on MAAS; its traffic is sent at the wires by sendStep. */
  const player = (sc: Scenario) =>
    new ScenarioPlayer(sc, { store: h.sim.store, agents: h.sim.agents, url: h.sim.url, apiKey: h.sim.apiKey });
  const dpusOf = (hostname: string) => h.sim.store.get(hostId(h, hostname)).model.dpuSystemIds;
  const lastWindow = async (hostname: string) =>
    JSON.parse((await h.redis.lindex(`${h.keys.base}:telemetry:${hostId(h, hostname)}:windows`, 0))!) as TelemetryWindow;

  /**
   * Pins a module's host cost where planning and telemetry read it, the catalog's stored report
   * (one per artifact digest), after the API has made it: the measured figure is replaced.
   */
  async function pinCost(module: string, nsPerPacket: number): Promise<void> {
    expect((await http(h.apiUrl, 'GET', `/v1/modules/${module}/analysis`)).status).toBe(200);
    const reports = await h.redis.hgetall(h.keys.moduleReports);
    let pinned = 0;
    for (const [key, text] of Object.entries(reports)) {
      const report = JSON.parse(text);
      if (report.module?.name !== module) continue;
      report.cost = { nsPerPacket, estimated: true, source: 'estimate' };
      await h.redis.hset(h.keys.moduleReports, key, JSON.stringify(report));
      pinned++;
    }
    expect(pinned).toBeGreaterThan(0);
    const { body } = await http(h.apiUrl, 'GET', `/v1/modules/${module}/analysis`);
    expect(body.cost).toEqual({ nsPerPacket, estimated: true, source: 'estimate' });
  }
  const observed = async (hostname: string) =>
    JSON.parse((await h.redis.hget(new StateKeys(h.config.IOPLANE_PREFIX).observed, hostId(h, hostname)))!) as ObservedPlacement;
  const ddosOn = async (hostname: string) => (await observed(hostname)).modules.find((m) => m.name === 'ddos-drop')!;
  const bf3Of = async (hostname: string) =>
    (
      (await http(h.apiUrl, 'GET', `/v1/fleet/machines/${hostId(h, hostname)}`)).body.devices as Array<{
        id: string;
        profileId: string | null;
      }>
    ).find((d) => d.profileId === BF3)!.id;
  const proposals = async (q = '') => (await http<{ items: Proposal[] }>(h.apiUrl, 'GET', `/v1/rebalance/proposals${q}`)).body.items;

  itKernel('refuses a policy with a bad field, naming it', async () => {
    const bad = await http(h.apiUrl, 'PUT', '/v1/rebalance/policy', {
      rules: [{ selector: { zones: ['zone-c'] }, mode: 'auto', windows: 0 }],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'validation', field: 'rules.0.windows' });
    const set = await runCli(['--api', h.apiUrl, 'rebalance', 'policy', '--mode', 'propose', '--zones', 'zone-a', '--margin', '0.3']);
    expect(set.stdout).toBe('1. zones=zone-a: propose, margin 30% and 0.05 hce, 3 windows, cool-down 30 windows\n');
    const refused = await runCli(['--api', h.apiUrl, 'rebalance', 'policy', '--mode', 'auto', '--zones', 'zone-a', '--windows', '0']);
    expect({ code: refused.code, stderr: refused.stderr }).toEqual({ code: 1, stderr: 'ioplane: --windows: must be at least 1\n' });
    expect((await http(h.apiUrl, 'GET', '/v1/rebalance/policy')).body.rules).toHaveLength(1);
  });

  itKernel(
    'a 100x ddos-drop surge on zone-c, as real packets: auto moves it host -> BlueField-3 Arm after the hysteresis; propose leaves a pending proposal',
    async () => {
      for (const host of ['core-c01', 'core-c02', 'core-c03']) expect(await ddosOn(host)).toMatchObject({ target: 'host-xdp-generic' });
      const policy = await http(h.apiUrl, 'PUT', '/v1/rebalance/policy', {
        rules: [
          { selector: { hostnames: ['core-c03'] }, mode: 'propose', windows: 3, cooldownWindows: 20 },
          { selector: { zones: ['zone-c'] }, mode: 'auto', windows: 3, cooldownWindows: 20 },
        ],
      });
      expect(policy.status).toBe(200);
      const surge = loadScenario('scenarios/wire-ddos-surge.yaml');
      const before = { c01: await ddosOn('core-c01'), c03: await ddosOn('core-c03') };
      // The surge's packets start in window 5; with 3 windows of hysteresis the move comes in window 7.
      const results = await steps(surge, range(0, 8));
      expect(results.map((r) => r.proposals.length > 0)).toEqual([false, false, false, false, false, false, false, true, false]);
      // The calm windows hold; the surge builds evidence for two windows, then acts.
      for (const r of results.slice(0, 5)) expect(r.verdicts.building ?? []).toEqual([]);
      expect(results[5].verdicts.building).toEqual(['core-c01', 'core-c02', 'core-c03']);
      expect(results[6].verdicts.building).toEqual(['core-c01', 'core-c02', 'core-c03']);
      const last = results[7];
      expect(last.proposals.sort()).toEqual(['core-c01', 'core-c02', 'core-c03'].map((n) => `rb-${last.window}-${hostId(h, n)}`).sort());
      expect(last.submitted).toHaveLength(1);

      // propose: core-c03 waits for an operator, with the move and its reasons.
      const [pending] = await proposals('?status=pending');
      expect(pending).toMatchObject({ hostname: 'core-c03', mode: 'propose', status: 'pending', placementId: null });
      // Generic XDP runs on the BlueField's host netdev (its host-XDP device); the move names the card that owns the netdev.
      expect(pending.moves).toEqual([
        {
          module: 'ddos-drop',
          from: { deviceId: await bf3Of('core-c03'), target: 'host-xdp-generic' },
          to: { deviceId: await bf3Of('core-c03'), target: 'dpu-arm-xdp', profileId: BF3 },
        },
      ]);
      const surgePps = results.slice(5, 8).map((r) => r.window);
      console.log(
        `rebalance e2e: surge windows ${surgePps.join(', ')} measured ${pending.reasons.observed['ddos-drop'].pps.toFixed(0)} pps on core-c03 at the last (sent 2,000 pps; crossing ${CROSSING_PPS})`,
      );
      // What the host's XDP counted of the packets sent at the wire: at most the rate sent, above the crossing.
      expect(pending.reasons.observed['ddos-drop'].pps).toBeGreaterThan(CROSSING_PPS);
      expect(pending.reasons.observed['ddos-drop'].pps).toBeLessThanOrEqual(2_000 * 1.05);
      expect(pending.reasons.gain).toBeGreaterThan(0.05);
      expect(pending.reasons.currentCost - pending.reasons.proposedCost).toBeGreaterThan(pending.reasons.gain);
      expect(pending.reasons.hostCores.proposed).toBe(0);
      expect(pending.reasons.whyNow).toContain('for 3 consecutive windows');

      // auto: one rebalance placement for core-c01 and core-c02, rolled out through the pipeline.
      const auto = (await proposals('?status=submitted')).filter((p) => p.mode === 'auto');
      expect(auto.map((p) => p.hostname).sort()).toEqual(['core-c01', 'core-c02']);
      const placementId = last.submitted[0];
      expect(auto.every((p) => p.placementId === placementId)).toBe(true);
      const done = await waitStatus(h, placementId, ['completed', 'failed', 'infeasible', 'cancelled', 'rolled-back']);
      expect(done).toMatchObject({ status: 'completed', reason: 'rebalance' });
      expect(done.request.selector).toEqual({ hostnames: ['core-c01', 'core-c02'] });
      for (const host of ['core-c01', 'core-c02']) {
        expect(await ddosOn(host)).toMatchObject({ deviceId: await bf3Of(host), target: 'dpu-arm-xdp' });
        expect((await observed(host)).placementId).toBe(placementId);
        // The move leaves no old copy: ddos-drop runs on the DPU only, loaded by the DPU's own agent.
        const running = async (systemId: string) =>
          (await h.agent(systemId).programs()).devices.flatMap((d) =>
            d.ports.filter((p) => p.current?.modules.some((m) => m.name === 'ddos-drop')).map(() => d.deviceId),
          );
        expect(await running(hostId(h, host))).toEqual([]);
        expect((await Promise.all(dpusOf(host).map(running))).flat()).toEqual([await bf3Of(host)]);
        // Checked from outside the agents: XDP on the DPU's uplink p0, none left on the host's netdev.
        const link = (ns: string, dev: string) =>
          (
            JSON.parse(execFileSync('ip', ['-n', ns, '-j', 'link', 'show', dev], { encoding: 'utf8' })) as {
              xdp?: { prog?: { id: number } };
            }[]
          )[0];
        const netns = `iop-${h.sim.agentInstanceId}-${host}`;
        expect(link(`${netns}-dpu0`, 'p0').xdp?.prog?.id).toEqual(expect.any(Number));
        expect(link(netns, PORT).xdp?.prog).toBeUndefined();
      }
      expect(await ddosOn('core-c03')).toMatchObject({ deviceId: before.c03.deviceId, target: 'host-xdp-generic' });
      expect(before.c01.target).toBe('host-xdp-generic');

      // The operator approves core-c03's proposal from the CLI; it rolls out the same way.
      const cli = await runCli(['--api', h.apiUrl, 'rebalance', 'approve', pending.id]);
      expect(cli.stderr).toBe('');
      const approved = (await http<Proposal>(h.apiUrl, 'GET', `/v1/rebalance/proposals/${pending.id}`)).body;
      expect(approved).toMatchObject({ status: 'submitted', decidedBy: 'operator' });
      expect((await waitStatus(h, approved.placementId!, ['completed', 'failed', 'infeasible', 'cancelled', 'rolled-back'])).status).toBe(
        'completed',
      );
      expect(await ddosOn('core-c03')).toMatchObject({ deviceId: await bf3Of('core-c03'), target: 'dpu-arm-xdp' });

      // The surge goes on and then ends: nothing moves again (on the DPU, the way back does not pay).
      const after = await steps(surge, [9, 10, 23, 24, 25, 26]);
      expect(after.flatMap((r) => r.proposals)).toEqual([]);
      // The windows after the move are the DPU's XDP counting the wire's packets (read from the DPU's agent), not silence.
      for (const host of ['core-c01', 'core-c02', 'core-c03']) {
        const w = await lastWindow(host);
        expect(w.modules['ddos-drop']).toMatchObject({ deviceIds: [await bf3Of(host)] });
        expect(w.modules['ddos-drop'].pps).toBeGreaterThan(0);
        expect(w.modules['ddos-drop'].pps).toBeLessThanOrEqual(20 * 1.05);
      }
      const ls = await runCli(['--api', h.apiUrl, 'rebalance', 'ls', '-v']);
      expect({ code: ls.code, stderr: ls.stderr }).toEqual({ code: 0, stderr: '' });
      expect(ls.stdout).toContain('core-c03');
      expect(ls.stdout).toContain('why now:');
    },
    600_000,
  );

  itKernel(
    'an oscillating load faster than the hysteresis moves nothing',
    async () => {
      await http(h.apiUrl, 'PUT', '/v1/rebalance/policy', {
        rules: [{ selector: { hostnames: ['edge-b05'] }, mode: 'auto', windows: 3, cooldownWindows: 20 }],
      });
      const osc = loadScenario('scenarios/wire-ddos-oscillate.yaml');
      const start = await ddosOn('edge-b05');
      const verdicts: string[] = [];
      for (const r of await steps(osc, range(0, 11))) {
        expect(r.proposals).toEqual([]);
        verdicts.push(Object.entries(r.verdicts as Record<string, string[]>).find(([, hosts]) => hosts.includes('edge-b05'))![0]);
      }
      // Every high window builds one window of evidence, and the low one after it resets it.
      expect(verdicts.filter((v, i) => i % 2 === 1)).toEqual(Array(6).fill('building'));
      expect(verdicts.filter((v, i) => i % 2 === 0)).not.toContain('building');
      expect(verdicts).not.toContain('propose');
      expect(await ddosOn('edge-b05')).toEqual(start);
      expect((await proposals()).filter((p) => p.hostname === 'edge-b05')).toEqual([]);
    },
    300_000,
  );

  itKernel(
    'a machine released from MAAS mid-scenario is dropped: its proposal, state and telemetry go',
    async () => {
      await http(h.apiUrl, 'PUT', '/v1/rebalance/policy', {
        rules: [{ selector: { hostnames: ['edge-b05'] }, mode: 'propose', windows: 3, cooldownWindows: 20 }],
      });
      const scenario = loadScenario('scenarios/wire-surge-and-leave.yaml');
      const sc = player(scenario);
      const id = hostId(h, 'edge-b05');
      const rounds = await steps(scenario, range(0, 3));
      const proposalId = rounds[3].proposals[0];
      expect(rounds.slice(0, 3).flatMap((r) => r.proposals)).toEqual([]);
      expect(proposalId).toBe(`rb-${await h.redis.get(`${h.keys.base}:telemetry:window`)}-${id}`);
      expect(await h.redis.exists(`${h.keys.base}:telemetry:${id}:windows`)).toBe(1);
      const report = await sc.apply(4);
      expect(report.released).toEqual(['edge-b05']);
      await until(
        'edge-b05 released',
        async () => h.sim.store.get(id).status !== STATUS.DEPLOYED && !h.sim.store.hasPending(h.sim.store.get(id)),
      );
      // Its agents went with its OS, and its namespaces, wire included, with them.
      await until('edge-b05 agents and namespaces gone', async () => !h.sim.agents.has(id) && h.sim.topology(id) === null);
      expect((await wire('PUT', `/sim/traffic/${id}/${PORT}`, { pps: 20, packets: 20 })).body.error).toMatchObject({
        code: 'not_packet_true',
      });
      await syncFleet(h);
      const [r, later] = await steps(scenario, [5, 6]);
      expect(r.dropped).toEqual([id]);
      expect((await http<Proposal>(h.apiUrl, 'GET', `/v1/rebalance/proposals/${proposalId}`)).body).toMatchObject({
        status: 'dropped',
        decidedBy: 'rebalancer',
      });
      expect(await h.redis.keys(`${h.keys.base}:telemetry:${id}:*`)).toEqual([]);
      expect(await h.redis.hexists(`${h.keys.base}:rebalance:state`, id)).toBe(0);
      expect(await h.redis.sismember(`${h.keys.base}:telemetry:machines`, id)).toBe(0);
      // Later rounds go on without it.
      expect(later.dropped).toEqual([]);
      sc.close();
    },
    300_000,
  );

  itKernel(
    'a steady sender at a wire runs until stopped, and its packets are what the chain counts',
    async () => {
      const id = hostId(h, 'core-c01');
      const bf3 = await bf3Of('core-c01');
      const [dpu] = dpusOf('core-c01');
      const counted = async () =>
        (await h.agent(dpu).counters(bf3)).modules.filter((m) => m.module === 'ddos-drop').reduce((n, m) => n + m.packets, 0);
      const before = await counted();
      expect((await wire('PUT', `/sim/traffic/${id}/${PORT}`, { pps: 200 })).body).toMatchObject({
        systemId: id,
        interface: PORT,
        pps: 200,
      });
      expect((await wire('GET', '/sim/traffic')).body.senders).toEqual([
        expect.objectContaining({ systemId: id, interface: PORT, pps: 200 }),
      ]);
      await until('the DPU chain counting the steady sender', async () => (await counted()) >= before + 100);
      expect((await wire('DELETE', `/sim/traffic/${id}`)).body).toEqual({ stopped: 1 });
      expect((await wire('GET', '/sim/traffic')).body.senders).toEqual([]);
      // Stopped means stopped: while 400 packets go to another machine at 2,000 pps (0.2 s), a sender
      // still running here would add about 40; a packet or two in flight at the stop may still land.
      const settled = await counted();
      expect((await wire('PUT', `/sim/traffic/${hostId(h, 'core-c02')}/${PORT}`, { pps: 2_000, packets: 400 })).body).toMatchObject({
        sent: 400,
      });
      expect(await counted()).toBeLessThanOrEqual(settled + 3);
    },
    120_000,
  );

  itKernel(
    'keeps telemetry memory bounded however long the scenario runs',
    async () => {
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
    },
    120_000,
  );
});
