import type { Redis } from 'ioredis';
import { StateKeys } from './state.keys';

export interface TelemetryLimits {
  /** Windows kept per machine (the list is trimmed to this length). */
  windows: number;
  /** Seconds after the last write at which a machine's telemetry keys expire. */
  ttlSeconds: number;
}

/**
 * Fixed telemetry windows per machine, with memory bounded twice over: each machine's list is
 * trimmed to `windows` entries, and a machine that is no longer sampled loses its keys by TTL
 * even if nobody calls forget().
 */
export class TelemetryRepository {
  private readonly keys: StateKeys;
  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = new StateKeys(prefix);
  }

  /** Opens the next window: one per sampling round of the fleet. */
  async nextWindow(): Promise<number> {
    return this.redis.incr(this.keys.telemetryWindow);
  }

  async currentWindow(): Promise<number> {
    return Number((await this.redis.get(this.keys.telemetryWindow)) ?? 0);
  }

  async lastSnapshot<T>(systemId: string): Promise<T | null> {
    const s = await this.redis.get(this.keys.telemetryLast(systemId));
    return s ? (JSON.parse(s) as T) : null;
  }

  /** Stores the window and the snapshot it was computed from in one round trip. */
  async record(systemId: string, window: unknown, snapshot: unknown, limits: TelemetryLimits): Promise<void> {
    const list = this.keys.telemetryWindows(systemId);
    await this.redis
      .multi()
      .lpush(list, JSON.stringify(window))
      .ltrim(list, 0, limits.windows - 1)
      .expire(list, limits.ttlSeconds)
      .set(this.keys.telemetryLast(systemId), JSON.stringify(snapshot), 'EX', limits.ttlSeconds)
      .sadd(this.keys.telemetryMachines, systemId)
      .exec();
  }

  /** Newest first. */
  async windows<T>(systemId: string, count: number): Promise<T[]> {
    return (await this.redis.lrange(this.keys.telemetryWindows(systemId), 0, count - 1)).map((s) => JSON.parse(s) as T);
  }

  async machines(): Promise<string[]> {
    return this.redis.smembers(this.keys.telemetryMachines);
  }

  async forget(systemId: string): Promise<void> {
    await this.redis
      .multi()
      .del(this.keys.telemetryWindows(systemId), this.keys.telemetryLast(systemId))
      .srem(this.keys.telemetryMachines, systemId)
      .exec();
  }
}
