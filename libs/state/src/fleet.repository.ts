import type { FleetMachine } from '@ioplane/domain';

export interface FleetMeta {
  generation: number;
  syncedAt: string | null;
  machines: number;
  devices: number;
  unprofiled: number;
}

export interface FleetFilter {
  zone?: string;
  pool?: string;
  tag?: string;
}

/** Inventory as last read from MAAS. Another backend implements the same face. */
export interface FleetRepository {
  /** Replaces the whole inventory atomically; returns the new generation. */
  replaceInventory(machines: FleetMachine[]): Promise<FleetMeta>;
  listMachines(filter?: FleetFilter): Promise<FleetMachine[]>;
  getMachine(systemId: string): Promise<FleetMachine | null>;
  meta(): Promise<FleetMeta>;
  getEventCursor(): Promise<number | null>;
  /** Moves the cursor forward only: a slower worker never rewinds it. */
  advanceEventCursor(to: number): Promise<number>;
}

export function matchesFilter(m: FleetMachine, f: FleetFilter = {}): boolean {
  return (!f.zone || m.zone === f.zone) && (!f.pool || m.pool === f.pool) && (!f.tag || m.tags.includes(f.tag));
}
