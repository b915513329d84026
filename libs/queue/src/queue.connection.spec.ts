import { Cluster } from 'ioredis';
import { RedisConnections, workerConnection } from './queue.connection';

describe('queue connections', () => {
  it('follows the primary: a worker connection to Sentinel asks for the master; READONLY reconnects', () => {
    expect(workerConnection('redis+sentinel://s1:1/m')).toMatchObject({ name: 'm', maxRetriesPerRequest: null });
    // One server: reconnect, but never send the write again to what is still a replica (it fails: 503).
    expect(workerConnection('redis://h:1').reconnectOnError!(new Error('READONLY x'))).toBe(1);
  });

  it('gives BullMQ options for one server and one shared cluster client per role, closed by close()', async () => {
    const single = new RedisConnections('redis://127.0.0.1:1');
    expect(single.queue('worker')).toMatchObject({ host: '127.0.0.1', port: 1, maxRetriesPerRequest: null });
    const cluster = new RedisConnections('redis+cluster://127.0.0.1:1');
    const c = cluster.queue('producer');
    expect(c).toBeInstanceOf(Cluster);
    expect(cluster.queue('producer')).toBe(c);
    expect(cluster.queue('worker')).not.toBe(c);
    await cluster.close();
    await single.close();
  });
});
