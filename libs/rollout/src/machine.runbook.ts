import type { AgentClient } from '@ioplane/agent-api';
import { DesiredChain, DesiredMachine, PortPart, portLayout } from './machine.desired';
import { assertTransition, MachineRecord, MachineState, ProbeReport } from './machine.state';
import type { AgentFacts } from './reconcile';
import { StoreUnavailable } from './store.retry';
import { failureOf, RolloutFailure, type RolloutFailureCode } from './rollout.failure';

/**
 * What the runbook needs of a host agent: these calls of the HTTP AgentClient, typed by the agent
 * API's schemas (`@ioplane/agent-api`), so a change to the contract shows up here at compile time.
 */
export type AgentPort = Pick<AgentClient, 'inventory' | 'programs' | 'flash' | 'load' | 'commit' | 'detach' | 'rollback' | 'runVectors' | 'counters' | 'probe'>;

export interface FirmwareImage {
  profileId: string;
  version: string;
  digest: string;
  bytes: Buffer;
}

export type Control = 'run' | 'pause' | 'cancel' | 'rollback';

export interface RunbookDeps {
  agent: AgentPort;
  /** ed25519 signature (base64) over a sha256 hex digest, by the controller's key. */
  sign(digest: string): string;
  /** Durable write (compare-and-swap); throws when another worker owns the machine now. */
  save(rec: MachineRecord): Promise<MachineRecord>;
  control(): Promise<Control>;
  firmwareImage(profileId: string): FirmwareImage;
  /** Time the probe traffic gets to move the counters. */
  probeMs?: number;
  sleep?(ms: number): Promise<void>;
  signal?: AbortSignal;
  onStep?(state: MachineState, detail: string): void;
  /**
   * The operator's word and the agent's inventory, read when the job started (alongside its
   * record): the first step uses them instead of reading them again. Not for commit or rollback.
   */
  started?: { control: Promise<Control>; inventory: Promise<Inventory> };
}

type Inventory = Awaited<ReturnType<AgentPort['inventory']>>;

export class RolloutStop extends RolloutFailure {
  constructor(readonly control: Control) {
    super('operator', `rollout ${control === 'pause' ? 'paused' : control === 'cancel' ? 'cancelled' : 'rolled back'} by the operator`);
  }
}

/** Why a machine is rolled back: the code metrics and the API read, the message people read. */
export interface Failure {
  code: RolloutFailureCode;
  message: string;
}

type Move = (state: MachineState, patch?: Partial<MachineRecord>, detail?: string) => Promise<MachineRecord>;

function mover(start: MachineRecord, deps: Pick<RunbookDeps, 'save' | 'onStep'>): { move: Move; note(patch: Partial<MachineRecord>, detail: string): void; current: () => MachineRecord } {
  let rec = start;
  const move: Move = async (state, patch = {}, detail = '') => {
    if (state !== rec.state) assertTransition(rec.state, state);
    rec = await deps.save({ ...rec, ...patch, state, startedAt: rec.startedAt ?? new Date().toISOString() });
    deps.onStep?.(state, detail);
    return rec;
  };
  // A fact that starts no step (a flash or load finished) rides on the next state write, which
  // follows at once; a resumed job reconciles with what the agent reports, so nothing repeats.
  const note = (patch: Partial<MachineRecord>, detail: string) => {
    rec = { ...rec, ...patch };
    deps.onStep?.(rec.state, detail);
  };
  return { move, note, current: () => rec };
}

/**
 * Takes one machine from its record's state through flash, load and health check, leaving the
 * old chain pinned on the agent: the wave's verdict commits it or rolls it back (commitMachine,
 * rollBackMachine). Every step checks what the agent already runs first, so a resumed job
 * (BullMQ is at-least-once) continues instead of repeating: an active flash is not written again.
 * A failing step rolls the machine back at once.
 */
export async function runMachine(start: MachineRecord, want: DesiredMachine, deps: RunbookDeps): Promise<MachineRecord> {
  const { move, note, current } = mover(start, deps);
  let started = deps.started;
  const inventory = (): Promise<Inventory> => started?.inventory ?? deps.agent.inventory();
  // The operator's word is read once before each step, alongside the agent's facts that step needs.
  const beforeStep = async <T>(read: Promise<T>): Promise<T> => {
    const control = started?.control ?? deps.control();
    started = undefined;
    const [c, value] = await Promise.all([control, read]);
    if (c !== 'run') throw new RolloutStop(c);
    return value;
  };
  try {
    let devices: Layout | undefined;
    const flashes = want.flashes.filter((f) => !current().flashed.includes(f.deviceId));
    if (flashes.length) {
      // The inventory reports each device's active firmware and, when nothing gets flashed, its slots.
      const inv = await beforeStep(inventory());
      let flashed = false;
      await move('flashing', {}, flashes.map((f) => `${f.deviceId} -> ${f.profileId}`).join(', '));
      // Devices are independent: their flashes run at once, and every one that finished is recorded,
      // so a failure of one rolls back all that changed.
      const results = await Promise.allSettled(
        flashes.map(async (f) => {
          if (firmwareOf(inv, f.deviceId)?.profileId === f.profileId) return f.deviceId;
          flashed = true;
          const img = deps.firmwareImage(f.profileId);
          const res = await deps.agent.flash(
            f.deviceId,
            { image: { profileId: img.profileId, version: img.version, digest: img.digest, signature: deps.sign(img.digest), bytes: img.bytes.toString('base64') }, activate: true },
            deps.signal,
          );
          if (res.status !== 'committed' && res.status !== 'already_active') throw new RolloutFailure('flash', `flash of ${f.deviceId} to ${f.profileId}: ${res.status}${res.reason ? `: ${res.reason}` : ''}`);
          return f.deviceId;
        }),
      );
      const done = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      if (done.length) note({ flashed: [...current().flashed, ...done] }, `${done.join(', ')} flashed`);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      if (!flashed) devices = layoutFrom(inv, want);
    }

    // Read after flashing: another firmware flavour offers other slots.
    const layout = async () => (devices ??= layoutFrom(await inventory(), want));
    for (const chain of want.chains) {
      if (current().loaded.includes(chainKey(chain))) continue;
      const parts = partsOf(chain, await beforeStep(layout()));
      await move('loading', {}, `${chain.deviceId} ${chain.target}${chain.interface ? ` on ${chain.interface}` : ''}`);
      let changed = false;
      for (const part of parts) {
        const res = await deps.agent.load(
          chain.deviceId,
          {
            target: chain.target,
            port: part.port,
            modules: part.modules.map((m) => ({
              name: m.name, version: m.version, digest: m.digest, signature: deps.sign(m.digest), object: m.object.toString('base64'),
              program: m.program, persistentMaps: m.persistentMaps, pps: m.pps, ...(m.matchAction ? { matchAction: m.matchAction } : {}),
            })),
          },
          deps.signal,
        );
        changed ||= res.status !== 'unchanged';
      }
      // A chain the agent already ran is not ours to roll back later, unless it runs uncommitted:
      // a load of this rollout before its job was resumed (the machine is held by this rollout).
      const ours = changed || (await uncommittedOnAgent(deps.agent, chain, parts));
      note(ours ? { loaded: [...current().loaded, chainKey(chain)] } : {}, `${chain.deviceId} ${changed ? 'loaded' : ours ? 'loaded before this job resumed' : 'already running'}`);
    }

    // The health check starts with reads only (the operator's word, what the agent runs, counters
    // of devices that run no vectors), so they travel with the write of its state; vectors and
    // probes, which exercise the programs, wait for that write.
    const layoutForVerify = await layout();
    const reads = verifyReads(want, layoutForVerify, deps);
    const [c] = await settled(deps.control(), move('verifying'));
    if (c !== 'run') throw new RolloutStop(c);
    const probe = await verify(want, layoutForVerify, deps, reads);
    return await move('verifying', { verifiedAt: new Date().toISOString(), reason: null, code: null, probe }, 'health check passed');
  } catch (e) {
    if (e instanceof RolloutStop && e.control === 'pause') throw e;
    // Redis failed, not the step: the job fails and is run again, resuming from the record.
    if (e instanceof StoreUnavailable) throw e;
    const failure = failureOf(e, current().state);
    // The agent did not answer a change in time: it may have applied it or not. Neither done nor
    // rolled back blind: the reconciler asks the agent and resolves it.
    if (failure.code === 'agent-timeout' && (current().state === 'flashing' || current().state === 'loading')) {
      return move('unknown', { reason: `outcome unknown: ${failure.message}`, code: failure.code });
    }
    if (current().state === 'pending' && e instanceof RolloutStop) return move('cancelled', { reason: failure.message, code: failure.code });
    return rollBackMachine(current(), want, deps, failure);
  }
}

/** Makes a verified machine's new chains permanent: the agent drops the old ones. */
export async function commitMachine(rec: MachineRecord, want: DesiredMachine, deps: Pick<RunbookDeps, 'agent' | 'save' | 'onStep'>): Promise<MachineRecord> {
  const { move } = mover(rec, deps);
  // Committing a port does not change which chain runs where, so both reads go out together.
  const [devices, programs] = await Promise.all([layoutOf(deps.agent, want), deps.agent.programs()]);
  // Under the machine's lease, only exactly this placement's chain is committed: anything else on
  // a port (another rollout's programs, a change by hand) is not this placement's to make permanent.
  for (const chain of want.chains) {
    for (const part of partsOf(chain, devices)) {
      const running = programs.devices.find((d) => d.deviceId === chain.deviceId)?.ports.find((p) => p.port === part.port)?.current?.modules.map((m) => `${m.name}@${m.digest}`) ?? [];
      const expected = part.modules.map((m) => `${m.name}@${m.digest}`);
      if (running.join() !== expected.join()) {
        return rollBackMachine(rec, want, deps, { code: 'commit', message: `commit refused: ${chain.deviceId} port ${part.port} runs [${running.join(', ')}], this placement's chain is [${expected.join(', ')}]` });
      }
    }
  }
  const used = new Set<string>();
  // Ports are committed one device at a time, devices at once.
  await Promise.all(
    [...new Set(want.chains.map((c) => c.deviceId))].map(async (deviceId) => {
      for (const chain of want.chains.filter((c) => c.deviceId === deviceId)) {
        for (const part of partsOf(chain, devices)) {
          used.add(`${chain.deviceId}|${part.port}`);
          await deps.agent.commit(chain.deviceId, part.port);
        }
      }
    }),
  );
  // A module that moved leaves its old copy behind: once the new place is committed, ports that
  // run only this placement's modules but are not in its layout are detached. Anything else
  // there (other modules, programs ioplane did not load) is left alone.
  const names = new Set(want.chains.flatMap((c) => c.modules.map((m) => m.name)));
  for (const d of programs.devices) {
    for (const p of d.ports) {
      if (!p.current || used.has(`${d.deviceId}|${p.port}`)) continue;
      if (p.current.modules.length && p.current.modules.every((m) => names.has(m.name))) await deps.agent.detach(d.deviceId, p.port);
    }
  }
  return move('committed', { reason: null, code: null });
}

async function uncommittedOnAgent(agent: AgentPort, chain: DesiredChain, parts: PortPart[]): Promise<boolean> {
  const live = (await agent.programs()).devices.find((d) => d.deviceId === chain.deviceId);
  return parts.some((part) => {
    const cur = live?.ports.find((p) => p.port === part.port)?.current;
    return !!cur && cur.committed === false && cur.modules.map((m) => m.digest).join() === part.modules.map((m) => m.digest).join();
  });
}

/** What the agent runs on every port the plan puts a chain on, for the reconciler's decision. */
export async function agentFacts(agent: AgentPort, want: DesiredMachine): Promise<AgentFacts> {
  const [devices, live] = await Promise.all([layoutOf(agent, want), agent.programs()]);
  return {
    ports: want.chains.flatMap((chain) =>
      partsOf(chain, devices).map((part) => {
        const cur = live.devices.find((d) => d.deviceId === chain.deviceId)?.ports.find((p) => p.port === part.port)?.current ?? null;
        return { chain: chainKey(chain), runsNew: !!cur && cur.modules.map((m) => m.digest).join() === part.modules.map((m) => m.digest).join(), uncommitted: !!cur && cur.committed === false };
      }),
    ),
  };
}

export function chainKey(c: DesiredChain): string {
  return c.port === undefined ? `${c.deviceId}|${c.target}` : `${c.deviceId}|${c.port}|${c.target}`;
}

/** Waits for both before throwing the first failure, so a state write is never left in flight. */
async function settled<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (rb.status === 'rejected') throw rb.reason;
  if (ra.status === 'rejected') throw ra.reason;
  return [ra.value, rb.value];
}

type CountersRead = ReturnType<AgentPort['counters']>;
interface VerifyReads {
  programs: ReturnType<AgentPort['programs']>;
  /** Per chain: its device's counters before the probes, or null when they are read after its vectors. */
  countersBefore: Array<CountersRead | null>;
}

function verifyParts(want: DesiredMachine, devices: Layout) {
  return want.chains.flatMap((chain) => partsOf(chain, devices).map((part) => ({ chain, part })));
}

function verifyReads(want: DesiredMachine, devices: Layout, deps: RunbookDeps): VerifyReads {
  // Vectors may move a kernel program's counters, so a device that runs any is read after them.
  const withVectors = new Set(verifyParts(want, devices).filter(({ part }) => part.modules.some((m) => m.vectors.length)).map(({ chain }) => chain.deviceId));
  const reads: VerifyReads = { programs: deps.agent.programs(), countersBefore: want.chains.map((c) => (withVectors.has(c.deviceId) ? null : deps.agent.counters(c.deviceId))) };
  // verify awaits them and fails on their errors; a stop before verify leaves them unread.
  for (const r of [reads.programs, ...reads.countersBefore]) r?.catch(() => undefined);
  return reads;
}

/** Health check: the agent runs exactly the digests shipped, every vector passes, counters move under probe traffic. */
async function verify(want: DesiredMachine, devices: Layout, deps: RunbookDeps, reads: VerifyReads): Promise<ProbeReport> {
  const parts = verifyParts(want, devices);
  const programs = await reads.programs;
  for (const { chain, part } of parts) {
    const live = programs.devices.find((x) => x.deviceId === chain.deviceId);
    const running = live?.ports.find((p) => p.port === part.port)?.current?.modules.map((m) => `${m.name}@${m.digest}`) ?? [];
    const expected = part.modules.map((m) => `${m.name}@${m.digest}`);
    if (JSON.stringify(running) !== JSON.stringify(expected)) {
      const reordered = running.length === expected.length && [...running].sort().join() === [...expected].sort().join();
      throw new RolloutFailure('health', `verify ${chain.deviceId} port ${part.port}: ${reordered ? 'the chain runs in the wrong order: ' : ''}agent runs [${running.join(', ')}], expected [${expected.join(', ')}]`);
    }
  }
  // Vectors run only on what the digests proved is ours.
  const vectorRuns = await Promise.all(
    parts.map(({ chain, part }) => {
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
      throw new RolloutFailure('health', `verify ${chain.deviceId}: ${what}: ${failed.map((f) => `${f.module}/${f.name}: ${f.reason ?? 'mismatch'}`).join('; ')}`);
    }
  });
  // Counters not read yet are read after the vectors ran, so only probe traffic can move them.
  const before = await Promise.all(want.chains.map((c, i) => reads.countersBefore[i] ?? deps.agent.counters(c.deviceId)));
  // The wait for the traffic starts with the probes; the counters are read once both are done.
  const [sent] = await Promise.all([
    Promise.all(parts.map(async ({ chain, part }) => ({ deviceId: chain.deviceId, port: part.port, interface: chain.interface ?? null, sent: (await deps.agent.probe(chain.deviceId, part.port, 50)).sent }))),
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
    throw new RolloutFailure('health', `verify ${modeled[0].chain.deviceId}: probe not run: ${modeled.map(hopName).join(', ')} counted by a model (no packet crossed ${modeled.length > 1 ? 'them' : 'it'}, no kernel on the agent)`);
  }
  const stop = probeStop(seen.filter((x) => x.source !== 'emulated'));
  if (stop) throw new RolloutFailure('health', stop);
  // What the check saw, kept on the machine's record: operators (and the demo) read it per hop.
  return { sent, hops: seen.map((x) => ({ module: x.module, target: x.chain.target, deviceId: x.chain.deviceId, interface: x.chain.interface ?? null, packets: x.packets, source: x.source ?? null })) };
}

interface ProbeSeen {
  chain: DesiredChain;
  module: string;
  packets: number;
  source?: string | null;
}

const hopName = (s: ProbeSeen): string => `${s.module} (${s.chain.target} on ${s.chain.deviceId}${s.chain.interface ? ` at ${s.chain.interface}` : ''})`;

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
    if (first === 0) return `verify ${hops[0].chain.deviceId}: ${hopName(hops[0])} counted no packets under probe traffic at ${port}, though later hops did`;
    return `verify ${hops[first].chain.deviceId}: probe packets at ${port} stop after ${hopName(hops[first - 1])} counted ${hops[first - 1].packets}: ${hopName(hops[first])} counted none; the hop between drops them`;
  }
  return null;
}

/** Restores what the machine ran before: the previous chain on every port touched, the previous firmware slot. */
export async function rollBackMachine(rec: MachineRecord, want: DesiredMachine, deps: Pick<RunbookDeps, 'agent' | 'save' | 'onStep'>, failure: Failure): Promise<MachineRecord> {
  const { move, current } = mover(rec, deps);
  const reason = failure.message;
  try {
    await move('rolling-back', { reason, code: failure.code });
    // Only ports that run what this rollout loaded are touched: anything else there is not ours to undo.
    const [devices, live] = await Promise.all([layoutOf(deps.agent, want), deps.agent.programs()]);
    for (const chain of want.chains.filter((c) => rec.loaded.includes(chainKey(c)) || rec.state === 'loading')) {
      for (const part of partsOf(chain, devices)) {
        const running = live.devices.find((x) => x.deviceId === chain.deviceId)?.ports.find((p) => p.port === part.port)?.current;
        if (!running || running.modules.map((m) => m.digest).join() !== part.modules.map((m) => m.digest).join()) continue;
        await deps.agent.rollback(chain.deviceId, { port: part.port, scope: 'program' }).catch(async (e: { code?: string }) => {
          // No previous chain: the port ran nothing before this rollout, so restoring it means detaching.
          if (e.code !== 'nothing_to_roll_back') throw e;
          await deps.agent.detach(chain.deviceId, part.port);
        });
      }
    }
    for (const f of want.flashes.filter((x) => rec.flashed.includes(x.deviceId))) await deps.agent.rollback(f.deviceId, { scope: 'firmware' });
    return await move('rolled-back', { reason, verifiedAt: null });
  } catch (e) {
    return move('failed', { reason: `${reason}; rollback failed: ${(e as Error).message}` }).catch(() => current());
  }
}

type DeviceFacts = Map<string, { programSlotsPerPort?: number; ports?: number }>;
type Layout = Map<DesiredChain, PortPart[]>;

function layoutFrom(inv: Awaited<ReturnType<AgentPort['inventory']>>, want: DesiredMachine): Layout {
  // A device the agent has no driver for reports no slots or ports: the layout's defaults apply.
  const facts: DeviceFacts = new Map(inv.devices.map((d) => [d.device.id, d.driver === null ? {} : d]));
  return portLayout(want.chains, (id) => facts.get(id));
}

function firmwareOf(inv: Inventory, deviceId: string): { profileId: string } | null {
  const d = inv.devices.find((x) => x.device.id === deviceId);
  return d && d.driver !== null ? d.firmware : null;
}

function partsOf(chain: DesiredChain, layout: Layout): PortPart[] {
  return layout.get(chain) ?? [];
}

async function layoutOf(agent: AgentPort, want: DesiredMachine): Promise<Layout> {
  return layoutFrom(await agent.inventory(), want);
}
