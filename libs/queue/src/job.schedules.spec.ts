import { WrongQueueError } from './job.registry';
import { schedules, upsertSchedule } from './job.schedules';
import { fleetSyncPayload } from './fleet-sync.payload';
import { JOBS, QUEUES } from './queue.names';

describe('job schedules', () => {
  const queue = (name: string) => {
    const upserted: unknown[][] = [];
    return { name, upserted, upsertJobScheduler: async (...a: unknown[]) => void upserted.push(a) };
  };

  it('upserts each repeatable job under its fixed scheduler id, on the queue that carries it', async () => {
    const fleet = queue(QUEUES.fleet);
    await upsertSchedule(fleet, schedules.fleetSync(60_000));
    await upsertSchedule(fleet, schedules.maasEvents(5_000));
    expect(fleet.upserted).toEqual([
      [
        'fleet-sync-schedule',
        { every: 60_000 },
        {
          name: JOBS.fleetSync,
          data: { reason: 'schedule', systemIds: [] },
          opts: { removeOnComplete: 50, removeOnFail: 200, attempts: 3, backoff: { type: 'exponential', delay: 1000 } },
        },
      ],
      ['maas-events-schedule', { every: 5_000 }, { name: JOBS.maasEvents, data: {}, opts: { removeOnComplete: 50, removeOnFail: 200 } }],
    ]);
    expect(schedules.telemetrySample(10_000)).toMatchObject({
      schedulerId: 'telemetry-sample-schedule',
      queueName: QUEUES.rebalance,
      job: { data: { decide: true } },
    });
    expect(schedules.rolloutReconcile(30_000)).toMatchObject({
      schedulerId: 'rollout-reconcile-schedule',
      queueName: QUEUES.rollout,
      every: 30_000,
    });
  });

  it('the scheduled fleet sync carries a payload its handler accepts', () => {
    expect(fleetSyncPayload.parse(schedules.fleetSync(1000).job.data)).toEqual({ reason: 'schedule', systemIds: [] });
  });

  it('refuses a schedule on a queue that does not carry its job, where its ticks would never run', async () => {
    const rollout = queue(QUEUES.rollout);
    await expect(upsertSchedule(rollout, schedules.fleetSync(1000))).rejects.toBeInstanceOf(WrongQueueError);
    expect(rollout.upserted).toEqual([]);
  });
});
