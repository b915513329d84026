import type { Queue, Worker } from 'bullmq';
import { logBullErrors, WarnLog } from './bull.errors';

interface Client {
  status: string;
  disconnect(): void;
}

/** The ioredis client behind a queue or worker, if it ever connected; null when it did not answer in time. */
async function clientOf(q: Queue | Worker, waitMs: number): Promise<Client | null> {
  let timer: NodeJS.Timeout | undefined;
  const none = new Promise<null>((r) => (timer = setTimeout(() => r(null), waitMs)));
  try {
    return await Promise.race([(q.client as Promise<Client>).catch(() => null), none]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A close that works while Redis is away. Nest closes queues and workers gracefully, with QUIT and
 * (for a worker) after its blocking fetch returns; on a connection that is reconnecting none of
 * that ends well: QUIT on a producer connection (no offline queue) throws "Stream isn't writeable"
 * and BullMQ rethrows it, so the application's close stopped half way (the test harness then
 * never closed its simulator and in-process worker); QUIT on a reconnecting client answers OK and
 * the client connects again afterwards; a worker waits for a fetch that cannot come back. Those
 * were the open handles that kept jest alive after the readiness fault test restarted Redis just
 * before its teardown. So a connection that is not ready is dropped (disconnect also cancels the
 * pending reconnect) and a worker is closed with force: nothing could have finished anyway.
 */
export function closeEvenWhenDown<T extends Queue | Worker>(target: T, what: string, warn: WarnLog): T {
  const close = target.close.bind(target) as (force?: boolean) => Promise<void>;
  target.close = async (force?: boolean) => {
    const c = await clientOf(target, 1000);
    const down = !c || c.status !== 'ready';
    if (down) {
      warn({ what, status: c?.status ?? 'never connected' }, 'connection down at shutdown: dropped instead of a graceful close');
      c?.disconnect();
    }
    try {
      await close(force || down);
    } catch (e) {
      if (!/isn't writeable/.test((e as Error)?.message ?? '')) throw e;
      c?.disconnect();
    }
  };
  return target;
}

/** Every queue of a process: Redis errors logged through pino (see errorLogger), a close that works during an outage. */
export class QueueConnectionsGuard {
  constructor(queues: Queue[], warn: WarnLog) {
    for (const q of queues) closeEvenWhenDown(logBullErrors(q, `queue ${q.name}`, warn), `queue ${q.name}`, warn);
  }
}
