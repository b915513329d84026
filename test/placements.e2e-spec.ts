import { CHAIN_REQUEST, Harness, http, runCli, startSyncedHarness } from './harness';

async function waitPlacement(h: Harness, id: string, done: string[]) {
  for (let i = 0; ; i++) {
    const p = (await http(h.apiUrl, 'GET', `/v1/placements/${id}`)).body;
    if (done.includes(p.status)) return p;
    expect(i).toBeLessThan(600);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('placements API', () => {
  let h: Harness;
  beforeAll(async () => (h = await startSyncedHarness()), 60_000);
  afterAll(() => h?.stop());

  const placementKeys = async () => (await h.redis.keys(`${h.keys.base}:placement*`)).sort();
  const queued = async () => (await h.redis.keys(`{${h.config.IOPLANE_PREFIX}}:placement:*`)).length;

  it('returns a dry-run plan with a reason for every decision, storing nothing', async () => {
    const res = await http(h.apiUrl, 'POST', '/v1/placements', { ...CHAIN_REQUEST, dryRun: true });
    expect(res.status).toBe(200);
    const plan = res.body.plan;
    const expected = h.sim.model.hosts.filter((m) => ['zone-a', 'zone-b'].includes(m.zone) && m.status === 6);
    expect(plan.machines.map((m: { systemId: string }) => m.systemId).sort()).toEqual(expected.map((m) => m.systemId).sort());
    expect(plan.skipped.length).toBe(h.sim.model.hosts.filter((m) => ['zone-a', 'zone-b'].includes(m.zone) && m.status !== 6).length);
    for (const m of plan.machines) {
      if (!m.feasible) continue;
      // Every port traffic enters on runs the whole chain, in order, each hop explained.
      expect(m.paths.length).toBeGreaterThan(0);
      for (const path of m.paths) {
        expect(path.hops.map((x: { module: string }) => x.module)).toEqual(['acl-firewall', 'l4-lb', 'ddos-drop']);
        for (const x of path.hops) {
          expect(x.reasons.length).toBeGreaterThan(0);
          expect(x.hook).toMatch(/^(dpu-flow|dpu-xdp|nic-flow|nic-xdp-offload|xdp-native|xdp-generic)$/);
        }
        const positions = path.hops.map((x: { position: number }) => x.position);
        expect([...positions].sort((a, b) => a - b)).toEqual(positions);
      }
    }
    // An Agilio in eBPF flavour holds one offloaded program on the port traffic enters: the DDoS
    // module's LPM trie keeps it off that NIC, with the reason, and nothing of the chain runs on
    // another card's port.
    const agilio = h.sim.model.hosts.find((m) => m.hostname === 'edge-a01')!;
    const a = plan.machines.find((m: { systemId: string }) => m.systemId === agilio.systemId);
    expect(a.paths.map((p: { ingress: { interface: string } }) => p.ingress.interface)).toEqual(['ens1f0']);
    const hops = a.paths[0].hops as Array<{
      module: string;
      deviceId: string;
      hook: string;
      rejected: Array<{ target: string; code: string; rule: string; message: string }>;
    }>;
    expect(new Set(hops.map((x) => x.deviceId))).toEqual(new Set([`${agilio.systemId}/ens1f0`]));
    const refusal = hops.find((x) => x.module === 'ddos-drop')!.rejected.find((r) => r.target === 'nic-xdp-offload');
    expect(refusal).toMatchObject({ code: 'verifier', rule: 'profile_limit' });
    expect(refusal!.message).toMatch(/LPM_TRIE/);
    // A DPU host with a second uplink on its DPU carries the chain on both ports.
    const dpuHost = h.sim.model.hosts.find((m) => m.hostname === 'edge-a04')!;
    const d = plan.machines.find((m: { systemId: string }) => m.systemId === dpuHost.systemId);
    expect(d.paths.map((p: { ingress: { interface: string } }) => p.ingress.interface)).toEqual(['ens1f0', 'ens2f0np0']);
    expect(await placementKeys()).toEqual([]);
  });

  it('stores, plans in the worker and serves the plan; the same Idempotency-Key returns the same placement', async () => {
    const headers = { 'idempotency-key': 'test-key-0001' };
    const first = await http(h.apiUrl, 'POST', '/v1/placements', CHAIN_REQUEST, headers);
    expect(first.status).toBe(202);
    const { id } = first.body as { id: string };
    const again = await http(h.apiUrl, 'POST', '/v1/placements', CHAIN_REQUEST, headers);
    expect(again.status).toBe(200);
    expect((again.body as { id: string }).id).toBe(id);
    // Stored, planned by the worker, then rolled out (the rollout itself is covered in rollout.e2e-spec).
    const done = await waitPlacement(h, id, ['completed', 'infeasible', 'failed']);
    if (done.status !== 'completed')
      console.log(
        JSON.stringify(
          done.rollout?.machines?.filter((m: { state: string }) => m.state !== 'committed'),
          null,
          1,
        ),
      );
    expect({ status: done.status, error: done.error }).toEqual({ status: 'completed', error: null });
    const plan = (await http(h.apiUrl, 'GET', `/v1/placements/${id}/plan`)).body;
    expect(plan.complete).toBe(true);
    expect(plan.modules.map((m: { name: string }) => m.name)).toEqual(['acl-firewall', 'l4-lb', 'ddos-drop']);
  });

  it('rejects bad bodies naming each field, and unknown names with 404/422, leaving state and queue as they were', async () => {
    const before = [await placementKeys(), await queued()];
    const bad = await http(h.apiUrl, 'POST', '/v1/placements', {
      selector: { zones: 'zone-a' },
      modules: [{ name: 'L4 LB' }],
      policy: { hostCoreBudget: -1 },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues.map((i: { field: string }) => i.field)).toEqual(
      expect.arrayContaining(['selector.zones', 'modules.0.name', 'policy.hostCoreBudget']),
    );
    const unknownModule = await http(h.apiUrl, 'POST', '/v1/placements', { ...CHAIN_REQUEST, modules: [{ name: 'no-such-module' }] });
    expect(unknownModule).toMatchObject({ status: 404, body: { error: { field: 'modules.0.name' } } });
    const wrongVersion = await http(h.apiUrl, 'POST', '/v1/placements', {
      ...CHAIN_REQUEST,
      modules: [{ name: 'l4-lb', version: '9.9.9' }],
    });
    expect(wrongVersion).toMatchObject({ status: 422, body: { error: { field: 'modules.0.version' } } });
    const noMachines = await http(h.apiUrl, 'POST', '/v1/placements', { ...CHAIN_REQUEST, selector: { zones: ['zone-zz'] } });
    expect(noMachines).toMatchObject({ status: 422, body: { error: { field: 'selector' } } });
    expect([await placementKeys(), await queued()]).toEqual(before);
  });
});

describe('ioplane plan / submit / explain', () => {
  let h: Harness;
  beforeAll(async () => (h = await startSyncedHarness()), 60_000);
  afterAll(() => h?.stop());

  const cli = (...args: string[]) => runCli(['--api', h.apiUrl, ...args]);

  it('prints a table per machine for a dry run of the example placement', async () => {
    const r = await cli('plan', '--dry-run', '-f', 'placements/example.yaml');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const edge = h.sim.model.hosts.filter((m) => m.pool === 'edge' && m.status === 6);
    for (const m of edge) expect(r.stdout).toContain(`${m.hostname} (${m.systemId})`);
    // The table names the port and, per module, its hook and the interface it attaches to.
    expect(r.stdout).toMatch(/port ens1f0 \(ens1f0\), 5\.00 Mpps in/);
    expect(r.stdout).toMatch(/acl-firewall\s+nic-xdp-offload\s+nic-xdp-offload\s+on ens1f0/);
    expect(r.stdout).toMatch(/complete/);
  }, 60_000);

  it('submits, then explains a machine with every rejected target', async () => {
    const s = await cli('submit', '-f', 'placements/example.yaml');
    expect(s.code).toBe(0);
    const id = /^(pl-[a-z0-9-]+) submitted/.exec(s.stdout)![1];
    await waitPlacement(h, id, ['completed', 'infeasible', 'failed']);
    const r = await cli('explain', id, 'edge-a01');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/port ens1f0: /);
    expect(r.stdout).toMatch(/ddos-drop -> xdp-(native|generic) \(host-xdp-(native|generic)\) on ens1f0/);
    // What the chosen hook costs, in words from the hop's numbers, then why it and not another.
    expect(r.stdout).toMatch(/ddos-drop -> .*\n {4}costs [\d.]+ hce, .*host cores.*\n {4}because /);
    // Every refused position names its rule.
    expect(r.stdout).toMatch(/not nic-xdp-offload \(nic-xdp-offload\) on ens1f0: profile_limit: .*LPM_TRIE/);
    expect(r.stdout).toMatch(/not nic-xdp-offload \(nic-xdp-offload\) on ens1f0: slots: /);
    const bad = await cli('explain', id, 'no-such-host');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/not in plan/);
  }, 60_000);

  it('names the file when it is missing', async () => {
    const r = await cli('plan', '--dry-run', '-f', 'placements/missing.yaml');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/-f placements\/missing\.yaml: no such file/);
  });
});
