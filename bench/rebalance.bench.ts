import { StateKeys } from '@ioplane/state';
import { Queue } from 'bullmq';
import { JOBS, QUEUES, queuePrefix, workerConnection } from '@ioplane/queue';
import type { ObservedPlacement } from '@ioplane/state';
import { loadScenario, ScenarioPlayer } from '../apps/fleet-sim/src';
import { hostId, http, startHarness, waitJob, waitStatus, type Harness } from '../test/harness';
import { reportFigures, type Figures } from './bench.report';
import { benchRedis } from './rollout.store';

/**
 * npm run bench:rebalance  (BENCH_SHORT=1: 12 windows instead of 30)
 *
 * The whole stack in one process (test/harness.ts: MAAS simulator with an HTTP agent per host,
 * the worker with its BullMQ jobs, the API, a real Redis): the worker's own telemetry-sample job
 * (telemetry.sampler.ts reading every agent's counters) and rebalance-decide job
 * (rebalance.decider.ts) run once per window while two scenarios play on the emulated devices:
 * scenarios/ddos-surge.yaml on zone-c (auto) and scenarios/ddos-oscillate.yaml on edge-b05 (auto).
 * A submitted move rolls out through the normal pipeline (production 200 ms health-check wait)
 * before the next window. Fails only on a broken result, never on time.
 */
const HOSTS = ['core-c01', 'core-c02', 'core-c03', 'edge-b05'];
const SURGE_HOSTS = ['core-c01', 'core-c02', 'core-c03'];
const HYSTERESIS = 3;
const MODULE = 'ddos-drop';

const MEANING: Record<string, string> = {
  'rebalance.reaction_windows':
    "windows from the surge's first window to the decision round that submitted the move, both counted (median over the surge hosts; the move rolls out before the next window)",
  'rebalance.hysteresis_windows':
    "the rule's hysteresis: consecutive windows a better placement must win before a move (the least reaction possible)",
  'rebalance.flaps': 'reversals over the whole run: a module moved back to a device and target it had left, any host',
  'rebalance.host_cores_saved_pct':
    "host core-seconds saved by the moves, in percent: packets counted on host hops x the module's kernel-measured ns/packet, against the same with the packets moved off the host counted on the first placement's host hop",
  'rebalance.moves': "moves committed (a host's module on another device or target than the window before)",
  'rebalance.move_rollout_seconds_median': "seconds from a move's submission to its placement completed (median; min/max beside)",
  'rebalance.broken':
    'wrong results (a sample with errors, a move that did not complete, a move during the oscillation); non-zero fails the run',
};

async function main(): Promise<void> {
  const short = process.env.BENCH_SHORT === '1';
  const windows = short ? 12 : 30;
  const redis = await benchRedis();
  const saved = process.env.REDIS_URL;
  process.env.REDIS_URL = redis.url;
  let h: Harness | undefined;
  let queue: Queue | undefined;
  const broken: string[] = [];
  const kv: Figures = [];
  try {
    h = await startHarness({ probeMs: 200 });
    const hh = h;
    queue = new Queue(QUEUES.rebalance, {
      connection: workerConnection(h.config.REDIS_URL!),
      prefix: queuePrefix(h.config.IOPLANE_PREFIX),
    });
    const q = queue;
    // The inventory from MAAS and the agents, through the worker's fleet-sync job.
    const sync = await http(h.apiUrl, 'POST', '/v1/fleet/sync', {});
    const synced = await waitJob(h.apiUrl, sync.body.jobId);
    if (synced.state !== 'completed') throw new Error(`fleet sync ${synced.state}: ${synced.failedReason ?? ''}`);
    const res = await http(h.apiUrl, 'POST', '/v1/placements', {
      selector: { hostnames: HOSTS },
      // Traffic enters through the BlueField (only a port the DPU is in front of can move there), at the scenarios' calm rate.
      ingress: { interfaces: ['ens2f0np0'] },
      modules: [{ name: MODULE, prefer: 'auto', latencyBudgetUs: 20, traffic: { pps: 1_000, meanPacketBytes: 128 } }],
      // The bench's agents have no kernel (the scenarios play on their modeled counters): their health
      // checks cannot run, which the placement accepts explicitly.
      policy: { hostCoreBudget: 4, rollout: { canary: 1, waves: [100], maxUnavailable: 4, failureThreshold: 0.5 }, acceptNotRun: true },
    });
    if (res.status !== 202) throw new Error(`placement refused: ${JSON.stringify(res.body)}`);
    const first = await waitStatus(h, res.body.id, ['completed', 'failed', 'infeasible']);
    if (first.status !== 'completed') throw new Error(`first placement ${first.status}: ${first.error}`);
    const policy = await http(h.apiUrl, 'PUT', '/v1/rebalance/policy', {
      rules: [
        { selector: { zones: ['zone-c'] }, mode: 'auto', windows: HYSTERESIS, cooldownWindows: 20 },
        // As the e2e's oscillation rule: a gain must be worth 0.3 host-core equivalents, so the calm
        // phase (1,000 pps, a gain of about a thousandth of a core) never counts toward a move.
        { selector: { hostnames: ['edge-b05'] }, mode: 'auto', windows: HYSTERESIS, cooldownWindows: 20, minGainHce: 0.3 },
      ],
    });
    if (policy.status !== 200) throw new Error(`policy refused: ${JSON.stringify(policy.body)}`);
    const analysis = (await http<{ cost: { nsPerPacket: number; source: string } }>(h.apiUrl, 'GET', `/v1/modules/${MODULE}/analysis`))
      .body;
    const nsPerPacket = analysis.cost.nsPerPacket;

    let jobs = 0;
    const run = async (name: string, data: unknown): Promise<any> => {
      const id = `bench${++jobs}`;
      await q.add(name, data, { jobId: id });
      for (;;) {
        const job = await q.getJob(id);
        const state = await job?.getState();
        if (state === 'completed' || state === 'failed') {
          const done = (await q.getJob(id))!;
          if (done.failedReason) throw new Error(`${name} failed: ${done.failedReason}`);
          return done.returnvalue;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const where = async (hostname: string): Promise<string> => {
      const raw = await hh.redis.hget(new StateKeys(hh.config.IOPLANE_PREFIX).observed, hostId(hh, hostname));
      // One entry per ingress port's chain: a module can run on several devices of one host.
      const ms = raw ? (JSON.parse(raw) as ObservedPlacement).modules.filter((x) => x.name === MODULE) : [];
      return ms.length ? [...new Set(ms.map((m) => `${m.deviceId}|${m.target}`))].sort().join(',') : 'none';
    };
    // Measured counters: cumulative packets of the module per host, split by host hops and the rest.
    /**
     * Measured counters: cumulative packets of the module on the devices it was observed on so far,
     * split into host hops (host XDP) and the rest; counters elsewhere (none expected) are stray.
     */
    const packets = async (hostname: string): Promise<{ host: number; other: number; movedTo: number; stray: number }> => {
      const seen = history
        .get(hostname)!
        .flatMap((x) => x.split(','))
        .map((x) => x.split('|'));
      const first = new Set(
        history
          .get(hostname)![0]
          .split(',')
          .map((x) => x.split('|')[0]),
      );
      const onHost = new Set(seen.filter(([, t]) => t?.startsWith('host-')).map(([d]) => d));
      const placed = new Set(seen.map(([d]) => d));
      const agent = hh.agent(hostId(hh, hostname));
      const out = { host: 0, other: 0, movedTo: 0, stray: 0 };
      for (const d of (await agent.inventory()).devices) {
        if (!d.driver) continue;
        const c = await agent.counters(d.device.id);
        for (const x of c.modules) {
          if (x.module !== MODULE) continue;
          out[onHost.has(d.device.id) ? 'host' : placed.has(d.device.id) ? 'other' : 'stray'] += x.packets;
          if (placed.has(d.device.id) && !onHost.has(d.device.id) && !first.has(d.device.id)) out.movedTo += x.packets;
        }
      }
      return out;
    };

    const surge = new ScenarioPlayer(loadScenario('scenarios/ddos-surge.yaml'), {
      store: h.sim.store,
      agents: h.sim.agents,
      url: h.sim.url,
      apiKey: h.sim.apiKey,
    });
    const osc = new ScenarioPlayer(loadScenario('scenarios/ddos-oscillate.yaml'), {
      store: h.sim.store,
      agents: h.sim.agents,
      url: h.sim.url,
      apiKey: h.sim.apiKey,
    });
    const surgeFrom = 5;
    const history = new Map<string, string[]>(HOSTS.map((x) => [x, []]));
    for (const x of HOSTS) history.get(x)!.push(await where(x));
    const startPackets = new Map<string, Awaited<ReturnType<typeof packets>>>();
    for (const x of HOSTS) startPackets.set(x, await packets(x));
    const movedAt = new Map<string, number>();
    const rolloutSeconds: number[] = [];
    let oscMoves = 0;

    await surge.apply(0);
    await osc.apply(0);
    for (let step = 0; step < windows; step++) {
      // Traffic flows for a window, the window is sampled, the next step's traffic is set at once.
      // The change lands a little after the sample (the sample job's own time), so each window
      // carries a tail of the step before: 1 s windows keep a 20 Mpps tail under the 0.3 hce gain
      // the oscillation rule asks for (as the e2e's 3 s windows do).
      await new Promise((r) => setTimeout(r, 1_000));
      const sample = await run(JOBS.telemetrySample, { decide: false });
      if (sample.errors.length) broken.push(`window ${sample.window}: sampling errors ${sample.errors.slice(0, 3).join('; ')}`);
      if (step + 1 < windows) {
        await surge.apply(step + 1);
        await osc.apply(step + 1);
      }
      const r = await run(JOBS.rebalanceDecide, { window: sample.window });
      console.log(
        `rebalance: window ${step} (${sample.window}): ${Object.entries(r.verdicts as Record<string, string[]>)
          .map(([v, hs]) => `${v} ${hs.join(',')}`)
          .join('; ')}${r.submitted.length ? `; submitted ${r.submitted.join(',')}` : ''}`,
      );
      for (const placementId of r.submitted as string[]) {
        const t0 = performance.now();
        const done = await waitStatus(h, placementId, ['completed', 'failed', 'infeasible', 'cancelled']);
        rolloutSeconds.push((performance.now() - t0) / 1000);
        if (done.status !== 'completed')
          broken.push(`window ${sample.window}: rebalance placement ${placementId} ${done.status}: ${done.error}`);
      }
      for (const x of HOSTS) {
        const now = await where(x);
        const hist = history.get(x)!;
        if (now !== hist[hist.length - 1]) {
          if (SURGE_HOSTS.includes(x) && !movedAt.has(x)) movedAt.set(x, step);
          if (x === 'edge-b05') oscMoves++;
          console.log(`rebalance: window ${step}: ${x} ${MODULE} ${hist[hist.length - 1]} -> ${now}`);
        }
        hist.push(now);
      }
    }

    // Without the rebalancer every host keeps its first placement: its packets cost host cores
    // only where that placement is a host hop.
    let hostNs = 0;
    let withoutNs = 0;
    let stray = 0;
    for (const x of HOSTS) {
      const a = startPackets.get(x)!;
      const b = await packets(x);
      hostNs += (b.host - a.host) * nsPerPacket;
      stray += b.stray - a.stray;
      if (b.stray > a.stray)
        console.log(
          `rebalance: ${x}: ${b.stray - a.stray} ${MODULE} packets counted on a device other than ${[...new Set(history.get(x)!)].join(', ')}`,
        );
      // Without moves the packets a move took off the host would have stayed on its first placement's host hop.
      const firstOnHost = history
        .get(x)![0]
        .split(',')
        .some((e) => e.split('|')[1]?.startsWith('host-'));
      withoutNs += (b.host - a.host + (firstOnHost ? b.movedTo - a.movedTo : 0)) * nsPerPacket;
    }
    const allNs = withoutNs;
    let flaps = 0;
    let moves = 0;
    for (const hist of history.values()) {
      for (let i = 1; i < hist.length; i++) {
        if (hist[i] === hist[i - 1]) continue;
        moves++;
        // A reversal: back to a placement this host already left.
        if (hist.slice(0, i - 1).includes(hist[i])) flaps++;
      }
    }
    if (oscMoves) broken.push(`edge-b05 moved ${oscMoves} times under a load that oscillates faster than the hysteresis`);
    const reactions = SURGE_HOSTS.filter((x) => movedAt.has(x))
      .map((x) => movedAt.get(x)! - surgeFrom + 1)
      .sort((a, b) => a - b);
    if (windows > surgeFrom + HYSTERESIS + 1 && reactions.length < SURGE_HOSTS.length)
      broken.push(`${SURGE_HOSTS.length - reactions.length} surge hosts never moved`);
    const rs = [...rolloutSeconds].sort((a, b) => a - b);
    const med = (x: number[]) => x[Math.floor(x.length / 2)];
    console.log(
      `rebalance: ${windows} windows, the worker's telemetry-sample and rebalance-decide jobs on ${redis.where}, agents over HTTP (emulated counters following the scenarios), ${MODULE} measured at ${nsPerPacket.toFixed(1)} ns/packet (${analysis.cost.source})`,
    );
    console.log(
      `rebalance: surge from window ${surgeFrom} on ${SURGE_HOSTS.join(', ')}: moved after ${reactions.join(', ') || 'never'} windows (hysteresis ${HYSTERESIS}); edge-b05 oscillating: ${oscMoves} moves`,
    );
    console.log(
      `rebalance: ${MODULE} packets on host hops cost ${(hostNs / 1e9).toFixed(2)} core-seconds; without the rebalancer (every host on its first placement) ${(allNs / 1e9).toFixed(2)}; ${stray} packets counted for ${MODULE} on devices it was never observed on (left out)`,
    );
    kv.push(
      ['rebalance.windows', windows],
      ['rebalance.reaction_windows', reactions.length ? med(reactions) : 'none'],
      ['rebalance.reaction_windows_min', reactions[0] ?? 'none'],
      ['rebalance.reaction_windows_max', reactions[reactions.length - 1] ?? 'none'],
    );
    kv.push(['rebalance.hysteresis_windows', HYSTERESIS], ['rebalance.flaps', flaps], ['rebalance.moves', moves]);
    kv.push(
      ['rebalance.host_cores_saved_pct', allNs > 0 ? ((1 - hostNs / allNs) * 100).toFixed(1) : 'NaN'],
      ['rebalance.ns_per_packet', nsPerPacket.toFixed(1)],
      ['rebalance.ns_per_packet_source', analysis.cost.source],
    );
    if (rs.length)
      kv.push(
        ['rebalance.move_rollout_seconds_median', med(rs).toFixed(2)],
        ['rebalance.move_rollout_seconds_min', rs[0].toFixed(2)],
        ['rebalance.move_rollout_seconds_max', rs[rs.length - 1].toFixed(2)],
      );
    surge.close();
    osc.close();
  } finally {
    await queue?.close().catch(() => undefined);
    await h?.stop().catch((e: Error) => broken.push(`stopping the stack: ${e.message}`));
    await redis.stop();
    if (saved === undefined) delete process.env.REDIS_URL;
    else process.env.REDIS_URL = saved;
  }
  reportFigures('rebalance', kv, broken, MEANING);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
