import type { Redis } from 'ioredis';
import type { FleetMachine } from '@ioplane/domain';
import { FleetFilter, FleetMeta, FleetRepository, matchesFilter } from './fleet.repository';
import { StateKeys } from './state.keys';

// Compare-and-set in one round trip: the cursor only moves forward.
const ADVANCE_CURSOR = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '-1')
local nxt = tonumber(ARGV[1])
if nxt > cur then redis.call('SET', KEYS[1], ARGV[1]) return nxt end
return cur`;

export class RedisFleetRepository implements FleetRepository {
  private readonly keys: StateKeys;
  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = new StateKeys(prefix);
  }

  async replaceInventory(machines: FleetMachine[]): Promise<FleetMeta> {
    const devices = machines.reduce((n, m) => n + m.devices.length, 0);
    const unprofiled = machines.reduce((n, m) => n + m.devices.filter((d) => !d.profileId).length, 0);
    const syncedAt = new Date().toISOString();
    const entries = machines.flatMap((m) => [m.systemId, JSON.stringify(m)]);
    // MULTI makes readers see either the old or the new inventory, never a mix.
    const tx = this.redis.multi().del(this.keys.fleetMachines);
    if (entries.length) tx.hset(this.keys.fleetMachines, ...entries);
    tx.hincrby(this.keys.fleetMeta, 'generation', 1).hset(this.keys.fleetMeta, {
      syncedAt,
      machines: machines.length,
      devices,
      unprofiled,
    });
    const res = await tx.exec();
    const failed = res?.find(([err]) => err);
    if (!res || failed) throw new Error(`inventory write failed: ${failed?.[0]?.message ?? 'transaction aborted'}`);
    const generation = Number(res[entries.length ? 2 : 1][1]);
    return { generation, syncedAt, machines: machines.length, devices, unprofiled };
  }

  async listMachines(filter?: FleetFilter): Promise<FleetMachine[]> {
    const all = await this.redis.hvals(this.keys.fleetMachines);
    return all
      .map((s) => JSON.parse(s) as FleetMachine)
      .filter((m) => matchesFilter(m, filter))
      .sort((a, b) => a.hostname.localeCompare(b.hostname));
  }

  async getMachine(systemId: string): Promise<FleetMachine | null> {
    const s = await this.redis.hget(this.keys.fleetMachines, systemId);
    return s ? (JSON.parse(s) as FleetMachine) : null;
  }

  async meta(): Promise<FleetMeta> {
    const h = await this.redis.hgetall(this.keys.fleetMeta);
    return {
      generation: Number(h.generation ?? 0),
      syncedAt: h.syncedAt ?? null,
      machines: Number(h.machines ?? 0),
      devices: Number(h.devices ?? 0),
      unprofiled: Number(h.unprofiled ?? 0),
    };
  }

  async getEventCursor(): Promise<number | null> {
    const v = await this.redis.get(this.keys.maasEventCursor);
    return v === null ? null : Number(v);
  }

  async advanceEventCursor(to: number): Promise<number> {
    return Number(await this.redis.eval(ADVANCE_CURSOR, 1, this.keys.maasEventCursor, String(to)));
  }
}
