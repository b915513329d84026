import type { FirmwareProfile, FleetMachine, Machine } from '@ioplane/domain';
import { MaasClient, toMachine } from '@ioplane/maas';
import { detectDevices } from '@ioplane/profiles';
import type { FleetMeta, FleetRepository } from '@ioplane/state';

export interface SyncProgress {
  stage: 'list' | 'devices' | 'write';
  done: number;
  total: number;
}

export interface InventorySyncResult extends FleetMeta {
  hosts: number;
  dpus: number;
  durationMs: number;
}

/** PCI inventory calls in flight at once: MAAS is one region controller, so stay polite. */
const CONCURRENCY = 6;

/**
 * Reads the fleet from MAAS and writes it as one inventory generation. Nothing is
 * written unless every read succeeded, so a failed sync leaves the last good inventory.
 */
export class InventorySync {
  constructor(
    private readonly maas: MaasClient,
    private readonly profiles: FirmwareProfile[],
    private readonly repo: FleetRepository,
    /** Port every host agent listens on, at the host's management address. */
    private readonly agentPort: number | null = null,
  ) {}

  async run(opts: { signal?: AbortSignal; onProgress?: (p: SyncProgress) => void | Promise<void> } = {}): Promise<InventorySyncResult> {
    const started = Date.now();
    const report = async (p: SyncProgress) => opts.onProgress?.(p);
    await report({ stage: 'list', done: 0, total: 1 });
    const raws = await this.maas.listMachines();
    await report({ stage: 'list', done: 1, total: 1 });

    const machines: Machine[] = new Array(raws.length);
    let next = 0;
    let done = 0;
    const workers = Array.from({ length: Math.min(CONCURRENCY, raws.length) }, async () => {
      while (next < raws.length) {
        opts.signal?.throwIfAborted();
        const i = next++;
        const pci = await this.maas.machineDevices(raws[i].system_id);
        machines[i] = toMachine(raws[i], pci);
        await report({ stage: 'devices', done: ++done, total: raws.length });
      }
    });
    await Promise.all(workers);

    const fleet = buildFleet(machines, this.profiles, new Date().toISOString(), this.agentPort);
    opts.signal?.throwIfAborted();
    await report({ stage: 'write', done: 0, total: 1 });
    const meta = await this.repo.replaceInventory(fleet);
    await report({ stage: 'write', done: 1, total: 1 });
    const dpus = fleet.filter((m) => m.isDpu).length;
    return { ...meta, hosts: fleet.length - dpus, dpus, durationMs: Date.now() - started };
  }
}

/** Maps MAAS machines to inventory entries: hosts carry their DPUs (MAAS `parent`) as devices. */
export function buildFleet(
  machines: Machine[],
  profiles: FirmwareProfile[],
  syncedAt: string,
  agentPort: number | null = null,
): FleetMachine[] {
  const dpusByHost = new Map<string, Machine[]>();
  for (const m of machines) {
    if (!m.isDpu || !m.parentSystemId) continue;
    dpusByHost.set(m.parentSystemId, [...(dpusByHost.get(m.parentSystemId) ?? []), m]);
  }
  return machines.map((m) => ({
    ...m,
    devices: detectDevices(m, dpusByHost.get(m.systemId) ?? [], profiles),
    // The agent runs on the host (a DPU is a device of its host) at the address MAAS reports first.
    agentUrl: agentPort !== null && !m.isDpu && m.ipAddresses[0] ? `http://${m.ipAddresses[0]}:${agentPort}` : null,
    syncedAt,
  }));
}
