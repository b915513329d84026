import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { spawnWorker, type WorkerProcess } from './faults/fault.fixture';
import { acceptingNotRun, Harness, hostId, http, startHarness, syncFleet, until, waitStatus } from './harness';

const EXAMPLE = acceptingNotRun(parse(readFileSync('placements/example.yaml', 'utf8')));
// Short BullMQ job locks, so a killed worker's job is recovered within seconds.
const LOCK_MS = '4000';

describe('a worker killed (SIGKILL) mid-flash', () => {
  let h: Harness;
  let worker: WorkerProcess | null = null;
  const savedLock = process.env.IOPLANE_ROLLOUT_LOCK_MS;

  beforeAll(async () => {
    // flower -> bpf on an Agilio is write 2 s + activate 15 s; scaled to about 4 s.
    h = await startHarness({ worker: false, agents: { timeScale: 0.25 } });
    worker = spawnWorker(h, { IOPLANE_ROLLOUT_LOCK_MS: LOCK_MS });
    await syncFleet(h);
  }, 90_000);
  afterAll(async () => {
    await worker?.kill();
    await h?.stop();
    if (savedLock === undefined) delete process.env.IOPLANE_ROLLOUT_LOCK_MS;
    else process.env.IOPLANE_ROLLOUT_LOCK_MS = savedLock;
  });

  it('leaves a job another worker finishes, without a second write of the firmware slot', async () => {
    const id = hostId(h, 'edge-b03');
    const agent = h.agent(id);
    const nic = (await agent.programs()).devices.find((d) => d.firmware)!;
    expect(nic.firmware!.profileId).toBe('netronome-agilio-cx-nic-2.1');

    const res = await http(h.apiUrl, 'POST', '/v1/placements', { ...EXAMPLE, selector: { hostnames: ['edge-b03'] } });
    expect(res.status).toBe(202);
    const placementId: string = res.body.id;

    // Mid-flash: the record says flashing and the device is being written.
    await until(
      () => `edge-b03 to be flashing on its record and on its agent (worker output: ${worker!.output().slice(-2000)})`,
      async () => {
        const p = (await http(h.apiUrl, 'GET', `/v1/placements/${placementId}`)).body;
        if (p.rollout?.machines[0]?.state !== 'flashing') return false;
        return (await agent.programs()).devices.find((d) => d.deviceId === nic.deviceId)!.firmware!.updating;
      },
      40_000,
    );
    worker!.child.kill('SIGKILL');
    await worker!.exited;

    process.env.IOPLANE_ROLLOUT_LOCK_MS = LOCK_MS;
    await h.startWorker();

    const done = await waitStatus(h, placementId, ['completed', 'failed', 'cancelled', 'rolled-back'], 1200);
    const rec = done.rollout.machines[0];
    expect({ status: done.status, state: rec.state, reason: rec.reason }).toEqual({
      status: 'completed',
      state: 'committed',
      reason: null,
    });
    // Another worker resumed the same machine record: a later attempt, not a new rollout.
    expect(rec.attempts).toBeGreaterThanOrEqual(2);

    const fw = (await agent.programs()).devices.find((d) => d.deviceId === nic.deviceId)!.firmware!;
    expect(fw.profileId).toBe('netronome-agilio-cx-bpf-2.1');
    expect(fw.updating).toBe(false);
    expect(fw.slots.map((s) => ({ slot: s.name, state: s.state, writes: s.writes }))).toEqual([
      { slot: nic.firmware!.slots[0].name, state: 'inactive', writes: 0 },
      { slot: nic.firmware!.slots[1].name, state: 'active', writes: 1 },
    ]);
    const chains = (await agent.programs()).devices.flatMap((d) => d.ports.filter((p) => p.current).map((p) => p.current!.committed));
    expect(chains.length).toBeGreaterThan(0);
    expect(chains.every(Boolean)).toBe(true);
  }, 120_000);
});
