import { generateSigningKeys, signArtifact } from '@ioplane/devices';
import type { FirmwareProfile } from '@ioplane/domain';
import { firmwareImageFor, MachineRecord, RolloutOrchestrator } from '@ioplane/rollout';
import { BenchAgents } from './rollout.agents';
import { benchFleet, benchPolicy, nominalFlashSeconds, offloadModules } from './rollout.fleet';
import type { BenchStore } from './rollout.store';

export interface OverheadOptions {
  machines: number;
  concurrency: number;
  /** Seconds the Agilio flavour switch takes after scaling (profile: 17 s). */
  flashSeconds: number;
  threads: number;
  probeMs: number;
  profiles: FirmwareProfile[];
  store: BenchStore;
  placementId: string;
}

export interface OverheadResult {
  machines: number;
  concurrency: number;
  waves: number[];
  wallSeconds: number;
  deviceSeconds: number;
  flashSeconds: number;
  loadSeconds: number;
  /** Flash time the profiles prescribe after scaling (the devices' measured time includes timer lateness). */
  nominalDeviceSeconds: number;
  ratio: number;
  ratioNominal: number;
  states: Record<string, number>;
  broken: string[];
  timeScale: number;
  /** Sum over machines of the time from taking a slot to releasing it. */
  machineSeconds: number;
  /** Time spent committing waves (finishWave), during which no machine runs. */
  finishWaveSeconds: number;
  /**
   * The ratio the waves alone impose with equal machines and no overhead at all: a wave ends before
   * the next starts, so it takes ceil(machines / maxUnavailable) rounds (the canary one round alone).
   */
  floorRatio: number;
  /** Wall time of the canary wave, in which one machine runs and the other slots wait. */
  canarySeconds: number;
}

async function pool<T>(items: T[], width: number, fn: (x: T, lane: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async (_, lane) => {
      while (next < items.length) await fn(items[next++], lane);
    }),
  );
}

/**
 * One placement rolled out to every bench machine by the real orchestrator and runbook: waves,
 * at most `concurrency` machines in flight (maxUnavailable), flash -> load -> verify -> commit.
 * The bench plays the worker's part (the BullMQ processor): it releases each wave's machines, takes
 * the same slot lease and machine lock per machine, and calls finishWave when a wave has ended.
 */
export async function measureOverhead(o: OverheadOptions): Promise<OverheadResult> {
  const modules = await offloadModules();
  const fleet = benchFleet(o.machines, modules);
  const nominal = nominalFlashSeconds(o.profiles, fleet[0].devices[1].profileId!);
  const timeScale = o.flashSeconds / nominal;
  const keys = generateSigningKeys();
  const agents = await BenchAgents.start(o.threads, { machines: fleet.map((m) => ({ systemId: m.systemId, devices: m.devices })), timeScale, publicKeyPem: keys.publicKeyPem });
  const broken: string[] = [];
  try {
    const wants = new Map(fleet.map((m) => [m.systemId, m.want]));
    const byProfile = new Map(o.profiles.map((p) => [p.id, firmwareImageFor(p)]));
    let committed = 0;
    const orchestrator = new RolloutOrchestrator({
      store: o.store.store,
      agentFor: async (id) => agents.agent(id),
      sign: (digest) => signArtifact(digest, keys.privateKeyPem),
      firmwareImage: (profileId) => {
        const img = byProfile.get(profileId);
        if (!img) throw new Error(`no firmware profile ${profileId}`);
        return img;
      },
      desired: async (_p, systemId) => wants.get(systemId)!,
      onCommitted: async () => {
        committed++;
      },
      probeMs: o.probeMs,
    });
    const policy = benchPolicy(o.concurrency);

    let machineMs = 0;
    let finishMs = 0;
    let canaryMs = 0;
    const t0 = performance.now();
    const plan = await orchestrator.start(o.placementId, fleet.map((m) => ({ systemId: m.systemId, hostname: m.hostname })), policy);
    for (const wave of plan.waves) {
      await pool(wave.machines, policy.maxUnavailable, async (systemId, lane) => {
        agents.assign(systemId, lane);
        const tm = performance.now();
        try {
          await o.store.around(o.placementId, systemId, policy.maxUnavailable, () => orchestrator.runMachine(o.placementId, systemId));
          machineMs += performance.now() - tm;
        } catch (e) {
          broken.push(`${systemId}: ${(e as Error).message}`);
        }
      });
      const tw = performance.now();
      if (wave.index === 0) canaryMs = tw - t0;
      const outcome = await orchestrator.finishWave(o.placementId, wave.index);
      finishMs += performance.now() - tw;
      const expect = wave.index + 1 < plan.waves.length ? 'next' : 'completed';
      if (outcome.result !== expect) {
        broken.push(`wave ${wave.index}: ${outcome.result} (${outcome.failed} of ${outcome.total} failed)`);
        break;
      }
    }
    const wallSeconds = (performance.now() - t0) / 1000;

    const recs = await o.store.store.machines<MachineRecord>(o.placementId);
    const states: Record<string, number> = {};
    for (const r of recs) {
      states[r.state] = (states[r.state] ?? 0) + 1;
      if (r.state !== 'committed' && broken.length < 20) broken.push(`${r.hostname}: ${r.state}${r.reason ? `: ${r.reason}` : ''}`);
    }
    if (committed !== fleet.length) broken.push(`${committed} of ${fleet.length} machines reached onCommitted`);

    let flashMs = 0;
    let loadMs = 0;
    let flashes = 0;
    for (const m of fleet) {
      const t = await agents.deviceTime(m.systemId);
      flashMs += t.flashMs;
      loadMs += t.loadMs;
      flashes += t.flashes;
    }
    const deviceSeconds = (flashMs + loadMs) / 1000;
    const nominalDeviceSeconds = flashes * o.flashSeconds + loadMs / 1000;
    return {
      machines: fleet.length,
      concurrency: policy.maxUnavailable,
      waves: plan.waves.map((w) => w.machines.length),
      wallSeconds,
      deviceSeconds,
      flashSeconds: flashMs / 1000,
      loadSeconds: loadMs / 1000,
      nominalDeviceSeconds,
      ratio: wallSeconds / (deviceSeconds / policy.maxUnavailable),
      ratioNominal: wallSeconds / (nominalDeviceSeconds / policy.maxUnavailable),
      states,
      broken,
      timeScale,
      machineSeconds: machineMs / 1000,
      finishWaveSeconds: finishMs / 1000,
      floorRatio: plan.waves.reduce((n, w) => n + Math.ceil(w.machines.length / policy.maxUnavailable), 0) / (fleet.length / policy.maxUnavailable),
      canarySeconds: canaryMs / 1000,
    };
  } finally {
    await agents.close();
  }
}
