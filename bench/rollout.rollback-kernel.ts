import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMaasSimulator, type MaasSimulator } from '../apps/fleet-sim/src';
import { agentToken, AgentClient, generateSigningKeys } from '@ioplane/agent-api';
import type { FirmwareProfile } from '@ioplane/domain';
import type { DesiredMachine } from '@ioplane/rollout';
import { rolloutModule } from './rollout.fleet';
import { timedRollouts, type RollbackPath } from './rollout.rollback';
import type { BenchStore } from './rollout.store';

const HOSTNAME = 'bench-rb-k1';
const PORT = 'ens1f0';
const OTHER = 'ens1f1';

/** One host of the packet-true fleet: an E810 whose two ports are both uplinks, so its cables can be swapped. */
const FLEET = `
domain: maas
user: admin
defaults: { status: deployed, owner: admin, distroSeries: jammy, server: r650 }
zones: [{ name: zone-a, description: bench }]
pools: [{ name: edge, description: bench }]
servers:
  r650: { vendor: Dell Inc., product: PowerEdge R650, family: PowerEdge, cpuModel: Xeon, cores: 8, mhz: 2000, memoryGiB: 32, sockets: 1, diskGB: 480 }
hosts:
  - { hostname: ${HOSTNAME}, zone: zone-a, pool: edge, nics: [intel-e810], uplinks: [${PORT}, ${OTHER}] }
`;

/**
 * The probe path on a real kernel: one host of the packet-true fleet (its namespaces and veth
 * pairs made by the simulator, the production agent process in the host's namespace, host XDP in
 * the kernel). Per trial, the host's two cables are swapped behind the agent, then a chain is
 * loaded on ens1f0, which ran nothing: its vectors pass in the kernel, but the probe packets sent
 * at ens1f0's wire now reach the other port, so its module counts none and the check refuses it
 * ("not on that port's path"); rollBackMachine restores what the port ran before (nothing: the
 * chain is detached) and the cables are swapped back. A port that ran a chain cannot stand in
 * here: its new chain replaces the old one in the kernel link already attached to the netdev that
 * receives the port's wire, whatever its name now. Timed from the load request to the machine
 * recorded rolled-back. Root only: elsewhere `skipped` says why.
 */
export async function measureProbeRollbackOnKernel(o: {
  profiles: FirmwareProfile[];
  store: BenchStore;
  trials: number;
  prefix: string;
}): Promise<{ path: RollbackPath; broken: string[] } | { skipped: string }> {
  if (process.getuid?.() !== 0) return { skipped: 'not root: the packet-true fleet needs namespaces and XDP' };
  const dir = mkdtempSync(join(tmpdir(), 'ioplane-bench-rollback-k-'));
  const keys = generateSigningKeys();
  const tokenSecret = randomBytes(32).toString('hex');
  let sim: MaasSimulator | null = null;
  const broken: string[] = [];
  const trials: number[] = [];
  try {
    writeFileSync(join(dir, 'fleet.yaml'), FLEET);
    sim = await startMaasSimulator({
      fleetFile: join(dir, 'fleet.yaml'),
      port: 0,
      timeScale: 0.01,
      agents: { publicKeyPem: keys.publicKeyPem, tokenSecret, port: 0, kernel: 'auto', timeScale: 0.002, logLevel: 'silent' },
    });
    const m = sim.store.list().find((x) => x.hostname === HOSTNAME)!;
    const systemId = m.systemId;
    const running = sim.agents.get(systemId);
    if (!running || running.mode !== 'kernel') return { skipped: `the host's agent runs no kernel (${running?.mode ?? 'no agent'})` };
    const client = new AgentClient(running.url, agentToken(tokenSecret, systemId));
    const card = (await client.inventory()).devices.find((d) => d.device.interfaces.includes(PORT))?.device;
    if (!card) return { skipped: `the host's agent reports no device with ${PORT}` };

    const bad = await rolloutModule('ttl-guard');
    // A real kernel runs the vectors, so nothing is accepted as not run.
    const want: DesiredMachine = {
      systemId,
      hostname: HOSTNAME,
      flashes: [],
      chains: [{ deviceId: card.id, target: 'host-xdp-native', port: card.interfaces.indexOf(PORT), interface: PORT, modules: [bad] }],
      acceptNotRun: false,
    };
    const { rollout, loadAt } = timedRollouts({ ...o, client, privateKeyPem: keys.privateKeyPem, systemId, hostname: HOSTNAME });

    for (let i = 0; i < o.trials && !broken.length; i++) {
      await sim.hardware!.swapCables(systemId, PORT, OTHER);
      try {
        const rec = await rollout(`${o.prefix}-bad-${i}`, want);
        const ms = performance.now() - loadAt();
        const live = (await client.programs()).devices
          .find((d) => d.deviceId === card.id)
          ?.ports.find((p) => p.interface?.name === PORT)?.current;
        if (rec.state !== 'rolled-back')
          broken.push(`kernel probe trial ${i}: the bad chain ended ${rec.state} (${rec.reason ?? 'no reason'})`);
        else if (!/not on that port's path/.test(rec.reason ?? ''))
          broken.push(`kernel probe trial ${i}: rolled back for another reason: ${rec.reason}`);
        else if (live)
          broken.push(`kernel probe trial ${i}: after rollback ${PORT} still runs ${live.modules.map((x) => x.name).join(',')}`);
        else trials.push(ms);
      } finally {
        await sim.hardware!.swapCables(systemId, PORT, OTHER);
      }
    }
  } finally {
    await sim?.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const s = [...trials].sort((a, b) => a - b);
  return {
    path: { trials, medianMs: s[Math.floor(s.length / 2)] ?? NaN, minMs: s[0] ?? NaN, maxMs: s[s.length - 1] ?? NaN },
    broken,
  };
}
