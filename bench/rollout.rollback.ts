import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent } from '../apps/agent/src';
import { AgentClient, generateSigningKeys, signArtifact } from '@ioplane/agent-api';
import type { FirmwareProfile } from '@ioplane/domain';
import { firmwareImageFor, MachineRecord, RolloutOrchestrator, type AgentPort, type DesiredMachine } from '@ioplane/rollout';
import { createLogger } from '@ioplane/runtime';
import { benchDevice, benchPolicy, rolloutModule } from './rollout.fleet';
import type { BenchStore } from './rollout.store';

export interface RollbackPath {
  trials: number[];
  medianMs: number;
  minMs: number;
  maxMs: number;
}

export interface RollbackResult {
  /** The bad chain's program crashes (injected healthCheckFails): its test vectors fail. */
  vectors: RollbackPath;
  /** The bad chain's program sees no traffic: vectors none (a seeded module), counters stand still under the probes. */
  probe: RollbackPath;
  broken: string[];
}

function summary(trials: number[]): RollbackPath {
  const s = [...trials].sort((a, b) => a - b);
  return { trials, medianMs: s[Math.floor(s.length / 2)] ?? NaN, minMs: s[0] ?? NaN, maxMs: s[s.length - 1] ?? NaN };
}

/**
 * A real agent over HTTP (one machine, a BlueField-2 DPU, emulated) and the real runbook: the good
 * chain is committed, then a bad one is loaded and fails its health check in one of two ways, and
 * rollBackMachine swaps the good chain back. Vectors: the program crashes (injected
 * `healthCheckFails`), its test vectors fail. Probe: a module that ships no vectors (seeded maps)
 * and receives no packets (its traffic 0 pps on the emulated device), so the counters do not move
 * under the probe traffic within the production 200 ms wait. Timed from the load request of the bad
 * chain to the machine recorded rolled-back; the two paths alternate, `trials` times each.
 */
export async function measureRollback(o: {
  profiles: FirmwareProfile[];
  store: BenchStore;
  trials: number;
  prefix: string;
}): Promise<RollbackResult> {
  const keys = generateSigningKeys();
  const systemId = 'rbagent1';
  const dpu = benchDevice(systemId, 'dpu0', 'dpu', 'nvidia-bluefield-2-24.35');
  const stateDir = mkdtempSync(join(tmpdir(), 'ioplane-bench-rollback-'));
  const token = `bench-${process.pid}-${Date.now()}`;
  const agent = await startAgent({
    id: `bench-rollback-${process.pid}`,
    host: '127.0.0.1',
    port: 0,
    token,
    machine: { systemId, hostname: 'bench-rollback', devices: [dpu] },
    profiles: o.profiles,
    publicKeyPem: keys.publicKeyPem,
    kernel: 'off',
    stateDir,
    logger: createLogger({ level: 'silent' }),
  });
  const broken: string[] = [];
  const byPath = { vectors: [] as number[], probe: [] as number[] };
  try {
    const client = new AgentClient(agent.url, token);
    const good = await rolloutModule('flow-counter');
    const bad = await rolloutModule('vxlan-decap');
    const silent = { ...(await rolloutModule('acl-firewall')), pps: 0 };
    if (silent.vectors.length) broken.push('acl-firewall ships vectors now: the probe path needs a module without them');
    // Kernel off (the emulated DPU cannot run vectors): the operator's acceptNotRun lets a vector that
    // did not run pass; one that ran and failed (the injected crash) still fails the check.
    const chainOf = (m: typeof good, acceptNotRun = true): DesiredMachine => ({
      systemId,
      hostname: 'bench-rollback',
      flashes: [],
      chains: [{ deviceId: dpu.id, target: 'dpu-arm-xdp', modules: [m] }],
      acceptNotRun,
    });
    const { rollout, orchestrator, loadAt } = timedRollouts({
      ...o,
      client,
      privateKeyPem: keys.privateKeyPem,
      systemId,
      hostname: 'bench-rollback',
    });

    const first = await rollout(`${o.prefix}-good`, chainOf(good));
    const done = await orchestrator.finishWave(`${o.prefix}-good`, 0);
    if (!first.verifiedAt || done.result !== 'completed')
      broken.push(`the good chain did not commit: ${first.state} ${first.reason ?? ''}`);

    for (let i = 0; i < o.trials * 2 && !broken.length; i++) {
      const path = i % 2 === 0 ? 'vectors' : 'probe';
      if (path === 'vectors') agent.faults.set(dpu.id, { healthCheckFails: { next: 1 } });
      // The probe path: the emulated DPU's counters are a model, so no probe packet can show a
      // silent module there; the check says `not run`, and without the operator's acceptNotRun that
      // refusal is what rolls the chain back (a kernel agent's real counters are tested in test/).
      const rec = await rollout(`${o.prefix}-bad-${i}`, path === 'vectors' ? chainOf(bad) : chainOf(silent, false));
      const ms = performance.now() - loadAt();
      const live = (await client.programs()).devices.find((d) => d.deviceId === dpu.id)?.ports[0]?.current;
      const expect = path === 'vectors' ? /test vectors failed/ : /probe not run/;
      if (rec.state !== 'rolled-back') broken.push(`trial ${i} (${path}): the bad chain ended ${rec.state} (${rec.reason ?? 'no reason'})`);
      else if (!expect.test(rec.reason ?? '')) broken.push(`trial ${i} (${path}): rolled back for another reason: ${rec.reason}`);
      else if (live?.modules.map((m) => m.digest).join() !== good.digest)
        broken.push(
          `trial ${i} (${path}): after rollback the DPU runs ${live?.modules.map((m) => m.name).join(',') ?? 'nothing'}, not the good chain`,
        );
      else (path === 'vectors' ? byPath.vectors : byPath.probe).push(ms);
    }
  } finally {
    await agent.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
  return { vectors: summary(byPath.vectors), probe: summary(byPath.probe), broken };
}

/**
 * Rollouts of one machine through the production runbook and orchestrator, each under a placement
 * of its own, with the time of the last load request kept: a bad chain's rollback is timed from it.
 */
export function timedRollouts(o: {
  profiles: FirmwareProfile[];
  store: BenchStore;
  client: AgentClient;
  privateKeyPem: string;
  systemId: string;
  hostname: string;
}) {
  let loadAt = 0;
  const timed: AgentPort = new Proxy(o.client as unknown as AgentPort, {
    get(target, prop) {
      const v = (target as unknown as Record<string | symbol, unknown>)[prop];
      if (prop === 'load')
        return (...args: unknown[]) => ((loadAt = performance.now()), (v as (...a: unknown[]) => unknown).apply(target, args));
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const wants = new Map<string, DesiredMachine>();
  const orchestrator = new RolloutOrchestrator({
    store: o.store.store,
    agentFor: async () => timed,
    sign: (digest) => signArtifact(digest, o.privateKeyPem),
    firmwareImage: (id) => firmwareImageFor(o.profiles.find((p) => p.id === id)!),
    desired: async (placementId) => wants.get(placementId)!,
    onCommitted: async () => undefined,
  });
  const rollout = async (placementId: string, want: DesiredMachine): Promise<MachineRecord> => {
    wants.set(placementId, want);
    await orchestrator.start(placementId, [{ systemId: o.systemId, hostname: o.hostname }], benchPolicy(1));
    return o.store.around(placementId, o.systemId, 1, () => orchestrator.runMachine(placementId, o.systemId));
  };
  return { rollout, orchestrator, loadAt: () => loadAt };
}
