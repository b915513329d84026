import { jobId, JOBS, JOBS_BY_QUEUE, queuePrefix } from './queue.names';
import { fleetSyncPayload } from './fleet-sync.payload';
import { producerConnection, workerConnection } from './queue.connection';

describe('queue names', () => {
  it('hash-tags the prefix and strips colons from job ids', () => {
    expect(queuePrefix('ioplane')).toBe('{ioplane}');
    expect(jobId('sync', 'abc:1 2')).toBe('sync.abc_1_2');
  });

  it('assigns every job name to exactly one queue', () => {
    const all = Object.values(JOBS_BY_QUEUE).flat();
    expect(new Set(all).size).toBe(all.length);
    expect(new Set(all)).toEqual(new Set(Object.values(JOBS)));
  });

  it('validates fleet-sync payloads with a field-level reason', () => {
    expect(fleetSyncPayload.parse({ reason: 'manual' }).systemIds).toEqual([]);
    const bad = fleetSyncPayload.safeParse({ reason: 'whenever', systemIds: ['A:B'] });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => i.path.join('.'))).toEqual(['reason', 'systemIds.0']);
  });

  it('derives worker and producer connection options from a URL', () => {
    expect(workerConnection('redis://:p%40ss@10.0.0.1:6380/2')).toMatchObject({
      host: '10.0.0.1',
      port: 6380,
      password: 'p@ss',
      db: 2,
      maxRetriesPerRequest: null,
    });
    expect(producerConnection('redis://127.0.0.1:6379')).toMatchObject({ enableOfflineQueue: false });
  });
});
