import { resolve } from 'node:path';
import { startMaasSimulator, type MaasSimulator } from './maas-sim.server';
import { STATUS } from './maas-sim.status';
import { maasCall } from './maas-sim.testing';

const DEMO = resolve(__dirname, '../../../fleets/demo.yaml');

/** Polls until `check` passes; the simulator runs at timeScale 0.01, so deploy (8 s) takes ~80 ms. */
async function eventually<T>(fn: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 3000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (check(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('MAAS simulator: machine operations and events', () => {
  let sim: MaasSimulator;
  const call = (path: string, opts?: Parameters<typeof maasCall>[3]) => maasCall(sim.apiUrl, sim.apiKey, path, opts);
  const host = (status: number, skip = 0) => sim.model.hosts.filter((h) => h.status === status && h.dpuSystemIds.length === 0)[skip];

  beforeAll(async () => {
    sim = await startMaasSimulator({ fleetFile: DEMO, port: 0, timeScale: 0.01 });
  });
  afterAll(() => sim.close());

  it('fails a deployment it was told to fail with the reason given, as MAAS reports it; the next deployment after a release succeeds', async () => {
    const m = host(STATUS.READY, 1);
    sim.lifecycle.failNextDeployment(m.systemId, 'curtin: disk /dev/sda not found');
    expect((await call(`machines/${m.systemId}/?op=deploy`, { form: { distro_series: 'noble' } })).status).toBe(200);
    const failed = await eventually(
      () => call(`machines/${m.systemId}/`),
      (x) => x.json.status === STATUS.FAILED_DEPLOYMENT,
    );
    expect(failed.json).toMatchObject({ status_name: 'Failed deployment', error_description: 'curtin: disk /dev/sda not found' });
    expect((await call(`machines/${m.systemId}/?op=deploy`, { form: {} })).status).toBe(409);
    expect((await call(`machines/${m.systemId}/?op=release`, { form: {} })).status).toBe(200);
    await eventually(
      () => call(`machines/${m.systemId}/`),
      (x) => x.json.status === STATUS.READY,
    );
    expect((await call(`machines/${m.systemId}/?op=deploy`, { form: {} })).status).toBe(200);
    const done = await eventually(
      () => call(`machines/${m.systemId}/`),
      (x) => x.json.status === STATUS.DEPLOYED,
    );
    expect(done.json.status_name).toBe('Deployed');
    // Later tests take this machine as a Ready one, as the fleet file has it.
    expect((await call(`machines/${m.systemId}/?op=release`, { form: {} })).status).toBe(200);
    await eventually(
      () => call(`machines/${m.systemId}/`),
      (x) => x.json.status === STATUS.READY,
    );
  });

  it('deploys a ready machine: Allocated -> Deploying -> Deployed, writing the DEBUG events', async () => {
    const m = host(STATUS.READY);
    const cursor = (await call('events/?op=query&level=DEBUG&limit=1')).json.events[0].id as number;
    const r = await call(`machines/${m.systemId}/?op=deploy`, {
      form: { distro_series: 'jammy', user_data: Buffer.from('#cloud-config\n').toString('base64') },
    });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      system_id: m.systemId,
      status: STATUS.DEPLOYING,
      status_name: 'Deploying',
      owner: 'admin',
      power_state: 'on',
    });
    expect(r.json.interface_set.length).toBeGreaterThan(0);
    const done = await eventually(
      () => call(`machines/${m.systemId}/`),
      (x) => x.json.status === STATUS.DEPLOYED,
    );
    expect(done.json.status_name).toBe('Deployed');
    expect(sim.store.get(m.systemId).userData).toBe('#cloud-config\n');

    const ev = await call(`events/?op=query&level=DEBUG&after=${cursor}&id=${m.systemId}`);
    const changes = ev.json.events.filter((e: any) => e.type === 'Node changed status').map((e: any) => e.description);
    // newest first
    expect(changes).toEqual(["From 'Deploying' to 'Deployed'", "From 'Allocated' to 'Deploying'", "From 'Ready' to 'Allocated'"]);
    const ids = ev.json.events.map((e: any) => e.id);
    expect(ids).toEqual([...ids].sort((a: number, b: number) => b - a));
    expect(ev.json.events.find((e: any) => e.type === 'Node changed status')).toMatchObject({
      node: m.systemId,
      hostname: m.hostname,
      level: 'DEBUG',
    });
    expect(ev.json.events[0].created).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2}\. \d{4} \d{2}:\d{2}:\d{2}$/);
    const info = await call(`events/?op=query&after=${cursor}&id=${m.systemId}`);
    expect(info.json.events.map((e: any) => e.type)).toContain('Deployed');
    expect(info.json.events.every((e: any) => e.level !== 'DEBUG')).toBe(true);
  });

  it('answers 409 (no Retry-After) to deploying a deployed machine', async () => {
    const m = host(STATUS.DEPLOYED);
    const r = await call(`machines/${m.systemId}/?op=deploy`, { form: {} });
    expect(r.status).toBe(409);
    expect(r.headers.get('retry-after')).toBeNull();
    expect(r.text).toContain("'Deployed'");
  });

  it('locks a deployed machine, then answers 403 to editing ops until unlocked', async () => {
    const m = host(STATUS.DEPLOYED, 1);
    const locked = await call(`machines/${m.systemId}/?op=lock`, { form: { comment: 'maintenance' } });
    expect(locked.status).toBe(200);
    expect(locked.json.locked).toBe(true);
    expect((await call(`machines/${m.systemId}/?op=release`, { form: {} })).status).toBe(403);
    expect((await call(`machines/${m.systemId}/?op=set_workload_annotations`, { form: { a: 'b' } })).status).toBe(403);
    expect((await call(`machines/${m.systemId}/?op=lock`, { form: {} })).status).toBe(409);
    const unlocked = await call(`machines/${m.systemId}/?op=unlock`, { form: {} });
    expect(unlocked.json.locked).toBe(false);
  });

  it('sets and deletes workload annotations on an owned machine; owner_data mirrors them', async () => {
    const m = host(STATUS.DEPLOYED, 2);
    const set = await call(`machines/${m.systemId}/?op=set_workload_annotations`, {
      form: { 'ioplane.placement': 'xdp-lb@ens1f0', keep: 'yes' },
    });
    expect(set.status).toBe(200);
    expect(set.json.workload_annotations).toEqual({ 'ioplane.placement': 'xdp-lb@ens1f0', keep: 'yes' });
    expect(set.json.owner_data).toEqual(set.json.workload_annotations);
    const del = await call(`machines/${m.systemId}/?op=set_owner_data`, { form: { 'ioplane.placement': '' } });
    expect(del.json.workload_annotations).toEqual({ keep: 'yes' });
    const ready = host(STATUS.READY, 1);
    expect((await call(`machines/${ready.systemId}/?op=set_workload_annotations`, { form: { a: 'b' } })).status).toBe(409);
  });

  it('releases a deployed machine to Ready, clearing owner and annotations; release of Ready is a no-op', async () => {
    const m = host(STATUS.DEPLOYED, 3);
    await call(`machines/${m.systemId}/?op=set_workload_annotations`, { form: { x: '1' } });
    const r = await call(`machines/${m.systemId}/?op=release`, { form: {} });
    expect(r.json.status_name).toBe('Releasing');
    const done = await eventually(
      () => call(`machines/${m.systemId}/`),
      (x) => x.json.status === STATUS.READY,
    );
    expect(done.json).toMatchObject({ status_name: 'Ready', owner: null, workload_annotations: {}, power_state: 'off' });
    const again = await call(`machines/${m.systemId}/?op=release`, { form: {} });
    expect(again.status).toBe(200);
    expect(again.json.status).toBe(STATUS.READY);
  });

  it('allocates by constraints and answers 409 when nothing matches', async () => {
    const none = await call('machines/?op=allocate', { form: { zone: 'zone-a', tags: 'canary', cpu_count: '4096' } });
    expect(none.status).toBe(409);
    expect(none.text).toMatch(/^No available machine matches constraints/);
    const ready = sim.model.hosts.find((h) => h.status === STATUS.READY && h.zone === 'zone-c')!;
    const got = await call('machines/?op=allocate', { form: { zone: 'zone-c', system_id: ready.systemId } });
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({ system_id: ready.systemId, status_name: 'Allocated', owner: 'admin' });
    expect((await call('machines/?op=allocate', { form: { tags: 'nope' } })).status).toBe(400);
  });

  it('marks broken and fixed, and commissions back to Ready', async () => {
    const m = sim.model.hosts.filter((h) => h.status === STATUS.READY)[2];
    const broken = await call(`machines/${m.systemId}/?op=mark_broken`, { form: { comment: 'bad cable' } });
    expect(broken.json).toMatchObject({ status_name: 'Broken', error_description: 'bad cable' });
    const fixed = await call(`machines/${m.systemId}/?op=mark_fixed`, { form: {} });
    expect(fixed.json.status_name).toBe('Ready');
    expect((await call(`machines/${m.systemId}/?op=mark_fixed`, { form: {} })).status).toBe(409);
    const c = await call(`machines/${m.systemId}/?op=commission`, { form: { commissioning_scripts: 'flash-nfp' } });
    expect(c.json.status_name).toBe('Commissioning');
    sim.store.flushPending();
    expect((await call(`machines/${m.systemId}/`)).json.status_name).toBe('Ready');
  });

  it('pages events after a cursor, newest first, oldest page first', async () => {
    const start = (await call('events/?op=query&level=DEBUG&limit=1')).json.events[0].id as number;
    const m = sim.model.hosts.filter((h) => h.status === STATUS.DEPLOYED)[4];
    await call(`machines/${m.systemId}/?op=power_off`, { form: {} });
    await call(`machines/${m.systemId}/?op=power_on`, { form: {} });
    const all = await call(`events/?op=query&level=DEBUG&after=${start}`);
    const allIds: number[] = all.json.events.map((e: any) => e.id);
    expect(allIds.length).toBeGreaterThanOrEqual(2);
    expect(allIds).toEqual([...allIds].sort((a, b) => b - a));
    // The audit trail (level AUDIT) is below DEBUG, so it is not in this feed.
    expect(all.json.events.some((e: any) => e.level === 'AUDIT')).toBe(false);
    const oldest = allIds[allIds.length - 1];
    const page = await call(`events/?op=query&level=DEBUG&after=${start}&limit=1`);
    expect(page.json.count).toBe(1);
    expect(page.json.events[0].id).toBe(oldest);
    expect(page.json.next_uri).toContain(`after=${oldest}`);
    const rest = await call(`events/?op=query&level=DEBUG&after=${oldest}`);
    expect(rest.json.events.map((e: any) => e.id)).toEqual(allIds.slice(0, -1));
    const audit = await call(`events/?op=query&level=AUDIT&after=${start}`);
    expect(audit.json.events.map((e: any) => e.description)).toContain(`Powered off '${m.hostname}'.`);
    expect((await call('events/?op=query&limit=1001')).status).toBe(400);
    expect((await call(`events/?op=query&after=1&before=5`)).status).toBe(400);
  });

  it('tags machines with update_nodes and lists them with op=machines', async () => {
    const created = await call('tags/', { form: { name: 'xdp-test', comment: 'from a spec' } });
    expect(created.status).toBe(200);
    const ids = sim.model.hosts.slice(0, 3).map((h) => h.systemId);
    const upd = await call('tags/xdp-test/?op=update_nodes', { form: { add: ids, remove: [ids[2]] } });
    expect(upd.json).toEqual({ added: 3, removed: 1 });
    const tagged = await call('tags/xdp-test/?op=machines');
    expect(tagged.json.map((m: any) => m.system_id).sort()).toEqual(ids.slice(0, 2).sort());
    expect((await call('machines/?tags=xdp-test')).json).toHaveLength(2);
    expect((await call('tags/nope/')).status).toBe(404);
  });
});
