import type { DesiredChain, DesiredMachine } from './machine.desired';
import { Layout, partsOf } from './machine.layout';
import type { AgentPort, RunbookDeps } from './machine.runbook';
import type { ProbeReport } from './machine.state';
import { RolloutFailure } from './rollout.failure';

type CountersRead = ReturnType<AgentPort['counters']>;
export interface VerifyReads {
  programs: ReturnType<AgentPort['programs']>;
  /** Per chain: its device's counters before the probes, or null when they are read after its vectors. */
  countersBefore: Array<CountersRead | null>;
}

function verifyParts(want: DesiredMachine, devices: Layout) {
  return want.chains.flatMap((chain) => partsOf(chain, devices).map((part) => ({ chain, part })));
}

export function verifyReads(want: DesiredMachine, devices: Layout, deps: RunbookDeps): VerifyReads {
  // Vectors may move a kernel program's counters, so a device that runs any is read after them.
  const withVectors = new Set(
    verifyParts(want, devices)
      .filter(({ part }) => part.modules.some((m) => m.vectors.length))
      .map(({ chain }) => chain.deviceId),
  );
  const reads: VerifyReads = {
    programs: deps.agent.programs(),
    countersBefore: want.chains.map((c) => (withVectors.has(c.deviceId) ? null : deps.agent.counters(c.deviceId))),
  };
  // verify awaits them and fails on their errors; a stop before verify leaves them unread.
  for (const r of [reads.programs, ...reads.countersBefore]) r?.catch(() => undefined);
  return reads;
}

/** Health check: the agent runs exactly the digests shipped, every vector passes, counters move under probe traffic. */
export async function verify(want: DesiredMachine, devices: Layout, deps: RunbookDeps, reads: VerifyReads): Promise<ProbeReport> {
  const parts = verifyParts(want, devices);
  const programs = await reads.programs;
  for (const { chain, part } of parts) {
    const live = programs.devices.find((x) => x.deviceId === chain.deviceId);
    const running = live?.ports.find((p) => p.port === part.port)?.current?.modules.map((m) => `${m.name}@${m.digest}`) ?? [];
    const expected = part.modules.map((m) => `${m.name}@${m.digest}`);
    if (JSON.stringify(running) !== JSON.stringify(expected)) {
      const reordered = running.length === expected.length && [...running].sort().join() === [...expected].sort().join();
      throw new RolloutFailure(
        'health',
        `verify ${chain.deviceId} port ${part.port}: ${reordered ? 'the chain runs in the wrong order: ' : ''}agent runs [${running.join(', ')}], expected [${expected.join(', ')}]`,
      );
    }
  }
  // Vectors run only on what the digests proved is ours.
  const vectorRuns = await Promise.all(
    parts.map(async ({ chain, part }) => {
      const vectors = part.modules.flatMap((m) => m.vectors.map((v) => ({ ...v, module: m.name })));
      return vectors.length ? deps.agent.runVectors(chain.deviceId, { port: part.port, vectors }) : null;
    }),
  );
  parts.forEach(({ chain }, i) => {
    const r = vectorRuns[i];
    if (!r) return;
    // A vector that did not run proves nothing: a failed check, unless the placement's policy accepts it.
    const notRun = (x: { notRun?: boolean; actualVerdict?: string }): boolean => x.notRun === true || x.actualVerdict === 'NOT_RUN';
    const failed = r.results.filter((x) => !x.passed && !(want.acceptNotRun && notRun(x)));
    if (failed.length || (!r.passed && !r.results.length)) {
      const what = failed.every(notRun) ? 'test vectors not run' : 'test vectors failed';
      throw new RolloutFailure(
        'health',
        `verify ${chain.deviceId}: ${what}: ${failed.map((f) => `${f.module}/${f.name}: ${f.reason ?? 'mismatch'}`).join('; ')}`,
      );
    }
  });
  // Counters not read yet are read after the vectors ran, so only probe traffic can move them.
  const before = await Promise.all(want.chains.map((c, i) => reads.countersBefore[i] ?? deps.agent.counters(c.deviceId)));
  // The wait for the traffic starts with the probes; the counters are read once both are done.
  const [sent] = await Promise.all([
    Promise.all(
      parts.map(async ({ chain, part }) => ({
        deviceId: chain.deviceId,
        port: part.port,
        interface: chain.interface ?? null,
        sent: (await deps.agent.probe(chain.deviceId, part.port, 50)).sent,
      })),
    ),
    (deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))))(deps.probeMs ?? 200),
  ]);
  const after = await Promise.all(want.chains.map((c) => deps.agent.counters(c.deviceId)));
  const seen: ProbeSeen[] = [];
  want.chains.forEach((chain, i) => {
    for (const m of chain.modules) {
      // A module on two ports of one device is counted per port.
      const mine = (x: { module: string; port: number }) => x.module === m.name && (chain.port === undefined || x.port === chain.port);
      const b = before[i].modules.find(mine);
      const a = after[i].modules.find(mine);
      if (!a || !b) throw new RolloutFailure('health', `verify ${chain.deviceId}: no counters for ${m.name}`);
      const dp = a.packets - b.packets;
      seen.push({ chain, module: m.name, packets: dp, source: a.source ?? null });
      if (dp > 0 && (a.drops - b.drops) / dp > 0.99 && m.vectors.every((v) => v.expectVerdict !== 'XDP_DROP')) {
        throw new RolloutFailure('health', `verify ${chain.deviceId}: ${m.name} drops everything under probe traffic`);
      }
    }
  });
  // Modeled counters (no kernel on the agent: source `emulated`) saw no probe packet: the check did not run there.
  const modeled = seen.filter((x) => x.source === 'emulated');
  if (modeled.length && !want.acceptNotRun) {
    throw new RolloutFailure(
      'health',
      `verify ${modeled[0].chain.deviceId}: probe not run: ${modeled.map(hopName).join(', ')} counted by a model (no packet crossed ${modeled.length > 1 ? 'them' : 'it'}, no kernel on the agent)`,
    );
  }
  const stop = probeStop(seen.filter((x) => x.source !== 'emulated'));
  if (stop) throw new RolloutFailure('health', stop);
  // What the check saw, kept on the machine's record: operators (and the demo) read it per hop.
  return {
    sent,
    hops: seen.map((x) => ({
      module: x.module,
      target: x.chain.target,
      deviceId: x.chain.deviceId,
      interface: x.chain.interface ?? null,
      packets: x.packets,
      source: x.source ?? null,
    })),
  };
}

interface ProbeSeen {
  chain: DesiredChain;
  module: string;
  packets: number;
  source?: string | null;
}

const hopName = (s: ProbeSeen): string =>
  `${s.module} (${s.chain.target} on ${s.chain.deviceId}${s.chain.interface ? ` at ${s.chain.interface}` : ''})`;

/**
 * Where probe packets sent at a port's wire stopped, from the per-module chain counters in the
 * order the plan puts the hops on that port (DPU, NIC stage, host): none counted at all means the
 * chain is not on the port's path (attached to another interface); a module that counted none
 * after one that did means the hop between them dropped them. Null when every module counted.
 */
export function probeStop(seen: readonly ProbeSeen[]): string | null {
  const byPort = new Map<string, ProbeSeen[]>();
  for (const s of seen) {
    const key = s.chain.interface ?? `${s.chain.deviceId}#${s.chain.port ?? 0}`;
    byPort.set(key, [...(byPort.get(key) ?? []), s]);
  }
  for (const [port, hops] of byPort) {
    const first = hops.findIndex((h) => h.packets <= 0);
    if (first < 0) continue;
    if (first === 0 && hops.every((h) => h.packets <= 0)) {
      return `verify ${hops[0].chain.deviceId}: no module counted the probe packets sent at ${port}'s wire: ${hops.map(hopName).join(', ')} not on that port's path (attached to another interface)`;
    }
    if (first === 0)
      return `verify ${hops[0].chain.deviceId}: ${hopName(hops[0])} counted no packets under probe traffic at ${port}, though later hops did`;
    return `verify ${hops[first].chain.deviceId}: probe packets at ${port} stop after ${hopName(hops[first - 1])} counted ${hops[first - 1].packets}: ${hopName(hops[first])} counted none; the hop between drops them`;
  }
  return null;
}
