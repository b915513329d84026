import { availableParallelism } from 'node:os';
import { loadProfiles } from '@ioplane/profiles';
import { measureChainSwap } from './rollout.chainswap';
import { measureHotswap } from './rollout.hotswap';
import { nominalFlashSeconds } from './rollout.fleet';
import { measureOverhead } from './rollout.overhead';
import { measureRollback } from './rollout.rollback';
import { measureProbeRollbackOnKernel } from './rollout.rollback-kernel';
import { reportFigures, type Figures } from './bench.report';
import { benchRedis, openStore } from './rollout.store';

/**
 * npm run bench:rollout  (BENCH_SHORT=1 for CI: 100 machines, shorter traffic; BENCH_ONLY=overhead|hotswap|rollback for one part)
 * 1. Orchestration overhead on the production path: the worker's RolloutProcessor on a BullMQ
 *    Worker, flows per wave, Redis state, real agents over HTTP (emulated devices), the runbook's
 *    200 ms health-check wait; wall time against the ideal (device seconds / maxUnavailable) and
 *    the floor the waves allow.
 * 2. Hot swap under traffic on a real veth (root only): lost packets, atomic vs detach-then-attach
 *    (by the agent's tool, and the smallest one: one process, back to back); then a chain of three
 *    modules changed one module at a time.
 * 3. A bad program rolled back by the runbook through a real agent over HTTP, on both failure paths.
 * Fails (exit 1) when something is broken, never on time. key=value lines come last.
 */
const MEANING: Record<string, string> = {
  'rollout.overhead_ratio':
    'wall time of the whole rollout (enqueue to placement completed) / (sum of device flash+load time / maxUnavailable)',
  'rollout.overhead_ratio_floor':
    'the best ratio the waves allow with no overhead at all: rounds of maxUnavailable slots, a wave ending before the next starts',
  'rollout.overhead_ratio_nominal': "the ratio with the profiles' flash times (scaled) instead of the measured ones",
  'rollout.machine_overhead_ms_median':
    "per machine, its job's first start to its end (verified, awaiting the wave's commit) minus its own device time (HTTP, Redis, signing, health-check wait), median",
  'rollout.hotswap_lost_packets':
    'UDP packets sent but not counted by XDP while the program (and a 3-module chain) was replaced atomically under traffic',
  'rollout.hotswap_lost_per_swap_detach_attach':
    'packets lost per replacement when detaching then attaching with iop-xdpctl (a process per step)',
  'rollout.hotswap_lost_per_swap_detach_attach_one_process':
    'packets lost per replacement when one process detaches and attaches back to back (the floor of detach-then-attach)',
  'rollout.bad_program_rollback_ms_vectors':
    "median ms from a crashing chain's load request to the previous chain restored (its test vectors fail); _min/_max beside",
  'rollout.bad_program_rollback_ms_probe':
    "median ms from a load request to the previous chain restored when the probe check refuses the chain: as root, on a kernel host of the packet-true fleet whose counters do not move (the chain is not on the probed port's path); elsewhere on the emulated DPU, whose probe could not run (acceptNotRun off); _min/_max beside",
  'rollout.bad_program_rollback_probe_on': 'where the probe path was measured: kernel-counters or emulated-dpu-probe-not-run',
  'rollout.broken':
    'results that are wrong (a machine not committed, a chain not restored, more counted than sent); non-zero fails the run',
};

async function main(): Promise<void> {
  const short = process.env.BENCH_SHORT === '1';
  const profiles = loadProfiles();
  const prefix = `ioplane-bench-rollout-${process.pid}-${Date.now()}`;
  const store = await openStore(prefix);
  const broken: string[] = [];
  const kv: Figures = [];
  try {
    const only = process.env.BENCH_ONLY;
    if (!only || only === 'overhead') {
      const redis = await benchRedis();
      try {
        const o = await measureOverhead({
          machines: short ? 100 : 1_000,
          // Full: the Agilio's flavour switch as its profile states it (write + activate, 17 s): the
          // device time of production, which the overhead is a share of. Short (CI): 1 s.
          flashSeconds: short ? 1 : nominalFlashSeconds(profiles, 'netronome-agilio-cx-bpf-2.1'),
          threads: Math.max(1, Math.min(4, availableParallelism())),
          // The runbook's default (machine.runbook.ts), which the worker's rolloutEnv leaves in place.
          probeMs: 200,
          profiles,
          redisUrl: redis.url,
          prefix: `${prefix}-q`,
        });
        broken.push(...o.broken);
        const over = [...o.perMachineOverheadMs].sort((a, b) => a - b);
        const q = (f: number) => over[Math.min(over.length - 1, Math.floor(f * over.length))] ?? NaN;
        console.log(
          `rollout: ${o.machines} emulated machines (an unprofiled eth0 and an Agilio CX flashed to its eBPF flavour, one offload module each), each a real agent over HTTP on its own loopback address; BullMQ flows and the worker's RolloutProcessor (job concurrency ${o.workerConcurrency}) on ${redis.where}`,
        );
        console.log(
          `rollout: waves ${o.waves.join('/')}, maxUnavailable ${o.concurrency}, health-check wait 200 ms; placement ${o.status}; final states ${JSON.stringify(o.states)}`,
        );
        console.log(
          `rollout: device time ${o.deviceSeconds.toFixed(1)} s (flash+activate ${o.flashSeconds.toFixed(1)} s at time scale ${o.timeScale.toFixed(4)}, load ${o.loadSeconds.toFixed(1)} s), ideal ${(o.deviceSeconds / o.concurrency).toFixed(2)} s, wall ${o.wallSeconds.toFixed(2)} s`,
        );
        console.log(
          `rollout: per machine, job start to job end (verified) beyond its device time: median ${q(0.5).toFixed(0)} ms (min ${q(0).toFixed(0)}, max ${over[over.length - 1]?.toFixed(0)}), of which 200 ms is the health-check wait`,
        );
        console.log(
          `rollout: the waves alone (${o.waves.map((n) => Math.ceil(n / o.concurrency)).join('+')} rounds of ${o.concurrency} slots for ${o.machines} machines) allow at best ${o.floorRatio.toFixed(3)}; with the profiles' flash times instead of measured ones the ratio is ${o.ratioNominal.toFixed(3)}`,
        );
        kv.push(
          ['rollout.machines', o.machines],
          ['rollout.concurrency', o.concurrency],
          ['rollout.probe_ms', 200],
          ['rollout.device_seconds', o.deviceSeconds.toFixed(2)],
        );
        kv.push(
          ['rollout.wall_seconds', o.wallSeconds.toFixed(2)],
          ['rollout.overhead_ratio', o.ratio.toFixed(3)],
          ['rollout.overhead_ratio_floor', o.floorRatio.toFixed(3)],
        );
        kv.push(['rollout.overhead_ratio_nominal', o.ratioNominal.toFixed(3)], ['rollout.machine_overhead_ms_median', q(0.5).toFixed(0)]);
      } finally {
        await redis.stop();
      }
    }

    if (!only || only === 'hotswap') {
      const h = await measureHotswap({ packets: short ? 30_000 : 100_000, rate: 10_000, profiles });
      const c = 'skipped' in h ? null : await measureChainSwap({ packets: short ? 30_000 : 100_000, rate: 10_000, profiles });
      if ('skipped' in h || !c || 'skipped' in c) {
        const why = 'skipped' in h ? h.skipped : c && 'skipped' in c ? c.skipped : '';
        console.log(`hotswap: skipped (${why})`);
        for (const k of ['hotswap_lost_packets', 'hotswap_lost_per_swap_detach_attach', 'hotswap_lost_per_swap_detach_attach_one_process'])
          kv.push([`rollout.${k}`, 'skipped']);
      } else {
        broken.push(...h.broken);
        console.log(
          `hotswap: ${h.atomic.sent} UDP packets at ${h.rate} pps over ${h.atomic.seconds.toFixed(1)} s, XDP (${h.mode}) replaced ${h.atomic.replacements} times by the kernel driver (atomic link update): counted ${h.atomic.counted} (${h.atomic.perVersion.join(' + ')} per version), lost ${h.atomic.lost}`,
        );
        console.log(
          `hotswap: baseline detach-then-attach by iop-xdpctl (programs preloaded, a process per step, as the agent's tool) ${h.detachAttach.replacements} times over ${h.detachAttach.seconds.toFixed(1)} s: sent ${h.detachAttach.sent}, counted ${h.detachAttach.counted}, lost ${h.detachAttach.lost}`,
        );
        const oneP = h.oneProcess;
        console.log(
          `hotswap: smallest detach-then-attach (one process, both programs open, BPF_LINK_DETACH then BPF_LINK_CREATE back to back) ${oneP.replacements} times over ${oneP.seconds.toFixed(1)} s: sent ${oneP.sent}, counted ${oneP.counted}, lost ${oneP.lost}; no program attached for ${oneP.gapMeanUs.toFixed(0)} us per swap on average (max ${oneP.gapMaxUs.toFixed(0)} us)`,
        );
        kv.push(
          ['rollout.hotswap_packets', h.atomic.sent],
          ['rollout.hotswap_rate_pps', h.rate],
          ['rollout.hotswap_replacements', h.atomic.replacements],
        );
        broken.push(...c.broken);
        console.log(
          `hotswap: chain of 3 modules on one hook (${c.mechanism}, ${c.mode}), ${c.sent} UDP packets at ${c.rate} pps over ${c.seconds.toFixed(1)} s, changed one module at a time ${c.replacements} times (whole new chain, atomic root swap): counted after XDP ${c.counted}, lost ${c.lost}, out of order ${c.disordered}`,
        );
        kv.push(
          ['rollout.hotswap_chain_packets', c.sent],
          ['rollout.hotswap_chain_replacements', c.replacements],
          ['rollout.hotswap_chain_lost_packets', c.lost],
        );
        const per = (lost: number, swaps: number) => (swaps ? (lost / swaps).toFixed(2) : 'NaN');
        kv.push(
          ['rollout.hotswap_lost_packets', h.atomic.lost + c.lost],
          ['rollout.hotswap_lost_per_swap', per(h.atomic.lost + c.lost, h.atomic.replacements + c.replacements)],
        );
        kv.push(
          ['rollout.hotswap_lost_packets_detach_attach', h.detachAttach.lost],
          ['rollout.hotswap_lost_per_swap_detach_attach', per(h.detachAttach.lost, h.detachAttach.replacements)],
        );
        kv.push(
          ['rollout.hotswap_lost_packets_detach_attach_one_process', oneP.lost],
          ['rollout.hotswap_lost_per_swap_detach_attach_one_process', per(oneP.lost, oneP.replacements)],
        );
        kv.push(['rollout.hotswap_detach_attach_one_process_gap_us', oneP.gapMeanUs.toFixed(1)]);
      }
    }
    if (!only || only === 'rollback') {
      const r = await measureRollback({ profiles, store, trials: short ? 3 : 7, prefix: `${prefix}-rb` });
      broken.push(...r.broken);
      const ms = (x: number[]) => x.map((v) => v.toFixed(0)).join(', ');
      console.log(
        `rollback: bad program on an emulated BlueField-2 behind a real agent over HTTP, the real runbook (200 ms health-check wait), from the bad chain's load request to the previous chain restored and recorded`,
      );
      console.log(
        `rollback: vectors fail (injected crash): ${ms(r.vectors.trials)} ms; probe check refuses (emulated DPU: probe not run, acceptNotRun off): ${ms(r.probe.trials)} ms`,
      );
      kv.push(
        ['rollout.bad_program_rollback_ms_vectors', r.vectors.medianMs.toFixed(0)],
        ['rollout.bad_program_rollback_ms_vectors_min', r.vectors.minMs.toFixed(0)],
        ['rollout.bad_program_rollback_ms_vectors_max', r.vectors.maxMs.toFixed(0)],
      );
      // The probe path on a real kernel where it can run: counters that do not move, not a check that could not run.
      const k = await measureProbeRollbackOnKernel({ profiles, store, trials: short ? 3 : 7, prefix: `${prefix}-rbk` });
      if ('skipped' in k) console.log(`rollback: probe path on a kernel host skipped (${k.skipped}); the emulated DPU's figure stands`);
      else {
        broken.push(...k.broken);
        console.log(
          `rollback: probe counters do not move (kernel host of the packet-true fleet, production agent process, host XDP native; its cables swapped behind the agent, so probes at ens1f0's wire reach ens1f1; ens1f0 ran nothing before, so restoring it detaches the chain): ${ms(k.path.trials)} ms`,
        );
      }
      const probe = 'skipped' in k ? r.probe : k.path;
      kv.push(
        ['rollout.bad_program_rollback_ms_probe', probe.medianMs.toFixed(0)],
        ['rollout.bad_program_rollback_ms_probe_min', probe.minMs.toFixed(0)],
        ['rollout.bad_program_rollback_ms_probe_max', probe.maxMs.toFixed(0)],
        ['rollout.bad_program_rollback_probe_on', 'skipped' in k ? 'emulated-dpu-probe-not-run' : 'kernel-counters'],
      );
    }
  } finally {
    await store.close();
  }
  reportFigures('rollout', kv, broken, MEANING);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
