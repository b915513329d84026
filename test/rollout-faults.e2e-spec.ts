import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { AgentError, signArtifact, signedLoadBody } from '@ioplane/agent-api';
import { loadOrCreateSigningKeys } from '@ioplane/runtime';
import { firmwareImageFor, planWaves } from '@ioplane/rollout';
import { loadProfiles } from '@ioplane/profiles';
import {
  acceptingNotRun,
  chainsOf,
  firmwareOf,
  Harness,
  hostId,
  http,
  startHarness,
  syncFleet,
  waitStatus,
  type RolloutMachine,
} from './harness';

const EXAMPLE = acceptingNotRun(parse(readFileSync('placements/example.yaml', 'utf8')));
const MODULES: string[] = EXAMPLE.modules.map((m: { name: string }) => m.name);
const ENDED = ['completed', 'failed', 'cancelled', 'infeasible', 'rolled-back'];

interface PlanMachine {
  systemId: string;
  hostname: string;
  feasible: boolean;
  placements: Record<string, { module: string; deviceId: string; target: string }>;
  flavourSwitches: Record<string, string>;
}
async function dryRun(h: Harness, req: unknown): Promise<PlanMachine[]> {
  const r = await http(h.apiUrl, 'POST', '/v1/placements', { ...(req as object), dryRun: true });
  expect(r.status).toBe(200);
  return r.body.plan.machines;
}

function withRollout(req: any, rollout: Record<string, unknown>, selector?: Record<string, unknown>) {
  return { ...req, ...(selector ? { selector } : {}), policy: { ...req.policy, rollout: { ...req.policy.rollout, ...rollout } } };
}

async function submit(h: Harness, req: unknown): Promise<{ id: string; done: any; machines: RolloutMachine[] }> {
  const res = await http(h.apiUrl, 'POST', '/v1/placements', req);
  expect(res.status).toBe(202);
  const done = await waitStatus(h, res.body.id, ENDED);
  return { id: res.body.id, done, machines: done.rollout?.machines ?? [] };
}

describe('rollout with 10 % injected flash failures', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await syncFleet(h);
  });
  afterAll(() => h?.stop());

  it('ends every machine committed or rolled back; the failed ones keep their firmware and run nothing of the placement', async () => {
    const plan = await dryRun(h, EXAMPLE);
    const feasible = plan.filter((m) => m.feasible);
    const flashing = feasible.filter((m) => Object.keys(m.flavourSwitches).length > 0);
    // Only the Agilio in its nic flavour flashes (to bpf, for XDP offload): the flower flavour holds
    // acl-firewall's flow rules as it is, its agent reporting flow hooks apart from program slots.
    expect(flashing.map((m) => m.hostname).sort()).toEqual(['edge-b03']);
    const victims = flashing;
    expect(victims.length / feasible.length).toBeLessThanOrEqual(0.2);

    const before = new Map<string, Record<string, string>>();
    for (const v of victims) {
      before.set(v.systemId, await firmwareOf(h, v.systemId));
      await h
        .agent(v.systemId)
        .setFaults(
          { devices: Object.fromEntries(Object.keys(v.flavourSwitches).map((d) => [d, { flashFails: true }])) },
          h.sim.agentFaultToken!,
        );
    }

    const { done, machines } = await submit(h, withRollout(EXAMPLE, { failureThreshold: 1 }));
    expect(done.status).toBe('completed');
    expect(machines.map((m) => m.systemId).sort()).toEqual(feasible.map((m) => m.systemId).sort());
    const bad = new Set(victims.map((v) => v.systemId));
    expect(machines.map((m) => [m.hostname, m.state])).toEqual(
      machines.map((m) => [m.hostname, bad.has(m.systemId) ? 'rolled-back' : 'committed']),
    );

    for (const v of victims) {
      const rec = machines.find((m) => m.systemId === v.systemId)!;
      expect(rec.reason).toMatch(/flash of .* failed: writing slot \S+ failed \(injected fault\)/);
      expect(await firmwareOf(h, v.systemId)).toEqual(before.get(v.systemId));
      expect(await chainsOf(h, v.systemId, MODULES)).toEqual([]);
      // The failed write is the only one: the rollout did not retry it blindly.
      const { devices } = await h.agent(v.systemId).programs();
      for (const d of Object.keys(v.flavourSwitches)) {
        const fw = devices.find((x) => x.deviceId === d)!.firmware!;
        expect(fw.slots.map((s) => s.writes ?? 0).reduce((a, b) => a + b, 0)).toBe(1);
        expect(fw.updating).toBe(false);
      }
    }
    // A flash that works is rollout.e2e's: there every switched device runs its new flavour.
  });

  it('refuses an artifact signed with another key (bad_signature) and loads or flashes nothing', async () => {
    const foreign = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    // A core host the edge placement above never touched: its card's host XDP hook is empty.
    const id = hostId(h, 'core-c05');
    const agent = h.agent(id);
    const report = (await http(h.apiUrl, 'GET', '/v1/modules/ddos-drop/analysis')).body;
    const object = readFileSync(join(h.config.IOPLANE_DATA_DIR, 'artifacts', `${report.artifact.digest}.o`));
    const inv = await agent.inventory();
    const host = inv.devices.find((d) => 'targets' in d && d.targets.some((t) => t.startsWith('host-')))!;
    if (!('targets' in host)) throw new Error('no host device');
    const target = host.targets.find((t) => t.startsWith('host-'))!;
    const before = await agent.programs();

    const body = signedLoadBody(target, [{ name: 'ddos-drop', version: '1.0.0', program: report.program.name, object }], foreign);
    const err = await agent.load(host.device.id, body).then(
      () => null,
      (e: AgentError) => e,
    );
    expect(err).toBeInstanceOf(AgentError);
    expect({ status: err!.status, code: err!.code, field: err!.field }).toEqual({
      status: 422,
      code: 'bad_signature',
      field: 'modules.0.signature',
    });
    expect(await agent.programs()).toEqual(before);

    // The same body signed with the controller's key is loadable: the signature alone was refused.
    const good = signedLoadBody(
      target,
      [{ name: 'ddos-drop', version: '1.0.0', program: report.program.name, object }],
      loadOrCreateSigningKeys(h.keysDir).privateKeyPem,
    );
    expect((await agent.load(host.device.id, good)).status).toBe('loaded');
    await agent.detach(host.device.id, 0);

    // Firmware too: a foreign signature never reaches the slots.
    const b02 = h.agent(hostId(h, 'edge-b02'));
    const nic = (await b02.programs()).devices.find((d) => d.firmware)!;
    const img = firmwareImageFor(loadProfiles().find((p) => p.id === 'netronome-agilio-cx-bpf-2.1')!);
    const image = {
      profileId: img.profileId,
      version: img.version,
      digest: img.digest,
      signature: signArtifact(img.digest, foreign),
      bytes: img.bytes.toString('base64'),
    };
    const ferr = await b02.flash(nic.deviceId, { image, activate: true }).then(
      () => null,
      (e: AgentError) => e,
    );
    expect({ status: ferr?.status, code: ferr?.code }).toEqual({ status: 422, code: 'bad_signature' });
    expect((await b02.programs()).devices.find((d) => d.deviceId === nic.deviceId)!.firmware).toEqual(nic.firmware);
  });
});

describe('rollout signed with a key the agents do not trust', () => {
  let h: Harness;
  let foreignKeys: string;
  beforeAll(async () => {
    h = await startHarness({ worker: false });
    // Same agent tokens, another signing key: the worker can talk to the agents but not convince them.
    foreignKeys = mkdtempSync(join(tmpdir(), 'ioplane-foreign-keys-'));
    copyFileSync(join(h.keysDir, 'agent-token.secret'), join(foreignKeys, 'agent-token.secret'));
    loadOrCreateSigningKeys(foreignKeys);
    await h.startWorker({ keysDir: foreignKeys });
    await syncFleet(h);
  });
  afterAll(async () => {
    await h?.stop();
    if (foreignKeys) rmSync(foreignKeys, { recursive: true, force: true });
  });

  it('rolls every machine back with the signature named, leaving nothing loaded and the firmware as it was', async () => {
    const hosts = ['edge-a01', 'edge-b02'];
    const ids = hosts.map((x) => hostId(h, x));
    const before = await Promise.all(ids.map((id) => firmwareOf(h, id)));
    const { done, machines } = await submit(h, withRollout(EXAMPLE, { failureThreshold: 1 }, { hostnames: hosts }));
    expect(machines.map((m) => m.hostname).sort()).toEqual(hosts);
    for (const m of machines) {
      expect({ host: m.hostname, state: m.state, reason: m.reason }).toEqual({
        host: m.hostname,
        state: 'rolled-back',
        reason: expect.stringMatching(/signature does not verify/),
      });
    }
    expect(done.status).not.toBe('rolling-out');
    for (const [i, id] of ids.entries()) {
      expect(await chainsOf(h, id, MODULES)).toEqual([]);
      expect(await firmwareOf(h, id)).toEqual(before[i]);
    }
  });
});

describe('a wave over its failure threshold', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await syncFleet(h);
  });
  afterAll(() => h?.stop());

  it('halts the rollout: that wave rolls back (verified machines too), later waves are cancelled and untouched', async () => {
    const plan = await dryRun(h, EXAMPLE);
    const feasible = plan.filter((m) => m.feasible).sort((a, b) => a.hostname.localeCompare(b.hostname));
    const waves = planWaves(
      'x',
      feasible.map((m) => m.systemId),
      EXAMPLE.policy.rollout,
    ).waves;
    expect(waves.length).toBeGreaterThanOrEqual(3);
    // One failing machine in a wave of at most four passes the 20 % threshold.
    const wave = waves[1];
    expect(wave.machines.length).toBeGreaterThanOrEqual(2);
    expect(1 / wave.machines.length).toBeGreaterThan(EXAMPLE.policy.rollout.failureThreshold);
    const victim = feasible.find((m) => m.systemId === wave.machines[wave.machines.length - 1])!;
    const devices = [...new Set(Object.values(victim.placements).map((p) => p.deviceId))];
    await h
      .agent(victim.systemId)
      .setFaults({ devices: Object.fromEntries(devices.map((d) => [d, { healthCheckFails: true }])) }, h.sim.agentFaultToken!);
    const later = waves.slice(2).flatMap((w) => w.machines);
    const laterFirmware = new Map(await Promise.all(later.map(async (id) => [id, await firmwareOf(h, id)] as const)));

    const { done, machines } = await submit(h, EXAMPLE);
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/wave 1 halted: 1 of \d+ machines failed/);
    const byId = new Map(machines.map((m) => [m.systemId, m]));
    for (const id of waves[0].machines) expect(byId.get(id)!.state).toBe('committed');
    for (const id of wave.machines) {
      const m = byId.get(id)!;
      expect({ host: m.hostname, state: m.state }).toEqual({ host: m.hostname, state: 'rolled-back' });
      expect(m.reason).toMatch(id === victim.systemId ? /verify .*(test vectors failed|drops everything)/ : /wave 1 halted/);
      expect(await chainsOf(h, id, MODULES)).toEqual([]);
    }
    for (const id of later) {
      const m = byId.get(id)!;
      expect({ host: m.hostname, state: m.state }).toEqual({ host: m.hostname, state: 'cancelled' });
      expect(await chainsOf(h, id, MODULES)).toEqual([]);
      expect(await firmwareOf(h, id)).toEqual(laterFirmware.get(id));
    }
  });
});
