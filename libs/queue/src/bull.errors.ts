/** Anything BullMQ makes that emits 'error': Worker, Queue, QueueEvents, FlowProducer. */
export interface ErrorEmitter {
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export type WarnLog = (fields: Record<string, unknown>, msg: string) => void;

/**
 * BullMQ emits every Redis error of a Worker, Queue or FlowProducer as an 'error' event; with no
 * listener it reaches console.error as an ERR_UNHANDLED_ERROR stack, outside the JSON log, once
 * per reconnect attempt. So every BullMQ object gets a listener that logs through pino, and an
 * outage's error, repeated on every reconnect attempt, is logged once per `quietMs`.
 */
export function errorLogger(what: string, warn: WarnLog, quietMs = 30_000, now = () => Date.now()): (err: Error) => void {
  let last = '';
  let at = 0;
  return (err: Error) => {
    const msg = err?.message ?? String(err);
    if (msg === last && now() - at < quietMs) return;
    last = msg;
    at = now();
    warn({ what, err: msg }, 'redis error in a queue connection; it reconnects by itself');
  };
}

export function logBullErrors<T extends ErrorEmitter>(emitter: T, what: string, warn: WarnLog): T {
  emitter.on('error', errorLogger(what, warn));
  return emitter;
}
