import { Queue } from 'bullmq';
import { MaasClient } from '@ioplane/maas';
import { JOBS, QUEUES, queuePrefix, workerConnection } from '@ioplane/queue';
import type { FleetMachine } from '@ioplane/domain';
import { Harness, http, startHarness, waitJob } from './harness';

describe('MAAS-driven provisioning: a machine reaching Deployed is synced', () => {
  let h: Harness;
  let queue: Queue;
  let maas: MaasClient;

  beforeAll(async () => {
    h = await startHarness();
    queue = new Queue(QUEUES.fleet, { connection: workerConnection(h.config.REDIS_URL!), prefix: queuePrefix(h.config.IOPLANE_PREFIX) });
    maas = new MaasClient({ url: h.sim.url, apiKey: h.sim.apiKey });
  });
  afterAll(async () => {
    await queue?.close();
    maas?.close();
    await h?.stop();
  });

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
    const syncs = await queue.getJobs(['completed'], 0, 50);
    expect(syncs.some((j) => j.name === JOBS.fleetSync && j.data.reason === 'maas-event' && j.data.systemIds.includes(ready.systemId))).toBe(true);

    // Nothing new happened: the next poll finds no deployments and queues nothing.
    const quiet = await pollEvents('events-3');
    expect(quiet.result.deployed).toEqual([]);
  });
});
