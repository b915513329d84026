import { Queue } from 'bullmq';
import { MaasClient } from '@ioplane/maas';
import { JOBS, QUEUES, queuePrefix, workerConnection } from '@ioplane/queue';
import type { FleetMachine } from '@ioplane/domain';
import { agentToken } from '@ioplane/agent-api';
import { loadOrCreateSecret, loadOrCreateSigningKeys } from '@ioplane/runtime';
import { agentUserData } from '@ioplane/planning';
import { acceptingNotRun, Harness, http, startHarness, waitJob } from './harness';

/** A harness, its fleet queue and a MAAS client of its simulator. */
async function startStack(): Promise<{ h: Harness; queue: Queue; maas: MaasClient }> {
  const h = await startHarness();
  const queue = new Queue(QUEUES.fleet, {
    connection: workerConnection(h.config.REDIS_URL!),
    prefix: queuePrefix(h.config.IOPLANE_PREFIX),
  });
  const maas = new MaasClient({ url: h.sim.url, apiKey: h.sim.apiKey });
  return { h, queue, maas };
}

async function stopStack(h?: Harness, queue?: Queue, maas?: MaasClient): Promise<void> {
  await queue?.close();
  maas?.close();
  await h?.stop();
}

describe('MAAS-driven provisioning: a machine reaching Deployed is synced', () => {
  let h: Harness;
  let queue: Queue;
  let maas: MaasClient;
  beforeAll(async () => ({ h, queue, maas } = await startStack()));
  afterAll(() => stopStack(h, queue, maas));

  async function pollEvents(id: string) {
    await queue.add(JOBS.maasEvents, {}, { jobId: id });
    return waitJob(h.apiUrl, id);
  }

  it('learns the event cursor, then queues a fleet sync when a deploy completes', async () => {
    const first = await waitJob(h.apiUrl, (await http(h.apiUrl, 'POST', '/v1/fleet/sync', {})).body.jobId);
    expect(first.state).toBe('completed');
    const ready = h.sim.model.hosts.find((m) => m.status === 4)!;
    const before = (await http<FleetMachine>(h.apiUrl, 'GET', `/v1/fleet/machines/${ready.systemId}`)).body;
    expect(before.statusName).toBe('Ready');

    // The first poll only learns where the event log ends.
    const init = await pollEvents('events-1');
    expect(init.result).toMatchObject({ events: 0, deployed: [] });
    expect(init.result.cursor).toBeGreaterThan(0);

    await maas.allocate({ system_id: ready.systemId });
    await maas.deploy(ready.systemId);
    for (let i = 0; (await maas.getMachine(ready.systemId)).status_name !== 'Deployed'; i++) {
      expect(i).toBeLessThan(200);
      await new Promise((r) => setTimeout(r, 25));
    }

    const poll = await pollEvents('events-2');
    expect(poll.result.deployed).toEqual([ready.systemId]);
    expect(poll.result.cursor).toBeGreaterThan(init.result.cursor);

    // The sync it queued brings the new status into the inventory.
    for (let i = 0; ; i++) {
      const now = (await http<FleetMachine>(h.apiUrl, 'GET', `/v1/fleet/machines/${ready.systemId}`)).body;
      if (now.statusName === 'Deployed') break;
      expect(i).toBeLessThan(200);
      await new Promise((r) => setTimeout(r, 25));
    }
    // The sync job ends after the inventory is written (provisioning runs last): wait for it to complete.
    const eventSync = async () =>
      (await queue.getJobs(['completed'], 0, 50)).some(
        (j) => j.name === JOBS.fleetSync && j.data.reason === 'maas-event' && j.data.systemIds.includes(ready.systemId),
      );
    for (let i = 0; !(await eventSync()); i++) {
      expect(i).toBeLessThan(200);
      await new Promise((r) => setTimeout(r, 25));
    }

    // Nothing new happened: the next poll finds no deployments and queues nothing.
    const quiet = await pollEvents('events-3');
    expect(quiet.result.deployed).toEqual([]);
  });
});

describe('MAAS-driven provisioning: a newly Deployed machine follows its selector by itself', () => {
  let h: Harness;
  let queue: Queue;
  let maas: MaasClient;
  beforeAll(async () => ({ h, queue, maas } = await startStack()));
  afterAll(() => stopStack(h, queue, maas));

  const status = async (id: string, want: string[]) => {
    for (let i = 0; ; i++) {
      const p = (await http(h.apiUrl, 'GET', `/v1/placements/${id}`)).body;
      if (want.includes(p.status)) return p;
      expect(i).toBeLessThan(1200);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it('rolls the edge placement out to an edge machine that reaches Deployed, and to nothing else', async () => {
    expect((await waitJob(h.apiUrl, (await http(h.apiUrl, 'POST', '/v1/fleet/sync', {})).body.jobId)).state).toBe('completed');
    const placed = await http(
      h.apiUrl,
      'POST',
      '/v1/placements',
      acceptingNotRun({
        selector: { pools: ['edge'], tags: ['legacy-nic'] },
        modules: [{ name: 'acl-firewall' }],
        policy: { allowPartial: true },
      }),
    );
    expect(placed.status).toBe(202);
    expect((await status(placed.body.id, ['completed', 'failed', 'infeasible'])).status).toBe('completed');
    await queue.add(JOBS.maasEvents, {}, { jobId: 'prov-events-1' });
    await waitJob(h.apiUrl, 'prov-events-1');

    const ready = h.sim.model.hosts.find((m) => m.hostname === 'edge-a08')!;
    const other = h.sim.model.hosts.find((m) => m.status === 4 && m.pool !== 'edge')!;
    // Deployed as ioplane deploys: cloud-init installs the agent with this machine's settings.
    const secret = loadOrCreateSecret(h.keysDir, 'agent-token.secret');
    const publicKeyPem = loadOrCreateSigningKeys(h.keysDir).publicKeyPem;
    for (const m of [ready, other]) {
      await maas.allocate({ system_id: m.systemId });
      const userData = agentUserData({
        systemId: m.systemId,
        token: agentToken(secret, m.systemId),
        publicKeyPem,
        agentPort: h.sim.agentPort,
        source: { packageUrl: 'http://controller.test/agent.deb' },
      });
      await maas.deploy(m.systemId, { user_data: Buffer.from(userData).toString('base64') });
    }
    for (
      let i = 0;
      (await maas.getMachine(ready.systemId)).status_name !== 'Deployed' ||
      (await maas.getMachine(other.systemId)).status_name !== 'Deployed';
      i++
    ) {
      expect(i).toBeLessThan(400);
      await new Promise((r) => setTimeout(r, 25));
    }
    await queue.add(JOBS.maasEvents, {}, { jobId: 'prov-events-2' });
    expect((await waitJob(h.apiUrl, 'prov-events-2')).result.deployed.sort()).toEqual([ready.systemId, other.systemId].sort());

    let follow: { id: string; request: { selector: { hostnames: string[] } }; reason: string } | undefined;
    for (let i = 0; !follow; i++) {
      expect(i).toBeLessThan(1200);
      const items = (await http(h.apiUrl, 'GET', '/v1/placements')).body.items;
      follow = items.find((p: { reason: string }) => p.reason === 'provisioning');
      if (!follow) await new Promise((r) => setTimeout(r, 50));
    }
    expect(follow.request.selector).toEqual({ hostnames: ['edge-a08'] });
    const done = await status(follow.id, ['completed', 'failed', 'infeasible']);
    expect(done.status).toBe('completed');
    expect(done.rollout.machines.map((m: { hostname: string; state: string }) => [m.hostname, m.state])).toEqual([
      ['edge-a08', 'committed'],
    ]);
    // The machine outside every selector got no placement.
    const all = (await http(h.apiUrl, 'GET', '/v1/placements')).body.items;
    expect(all.filter((p: { reason: string }) => p.reason === 'provisioning')).toHaveLength(1);
  }, 120_000);
});
