import { deployedTransitions, MaasClient, MaasEventCursor } from '@ioplane/maas';
import type { FleetRepository } from '@ioplane/state';

export interface EventWatchResult {
  events: number;
  cursor: number;
  /** Machines that reached Deployed since the last poll. */
  deployed: string[];
}

/**
 * One poll of MAAS events from the cursor kept in Redis. The first poll only
 * learns the newest id: history before ioplane started is covered by the full sync.
 */
export async function watchMaasEvents(maas: MaasClient, repo: FleetRepository, pageSize = 1000): Promise<EventWatchResult> {
  const stored = await repo.getEventCursor();
  const cursor = new MaasEventCursor(maas, { startAfter: stored ?? undefined, pageSize });
  if (stored === null) {
    const newest = await cursor.init();
    return { events: 0, cursor: await repo.advanceEventCursor(newest), deployed: [] };
  }
  const events = await cursor.poll();
  const deployed = [...new Set(deployedTransitions(events).map((t) => t.systemId))];
  return { events: events.length, cursor: await repo.advanceEventCursor(cursor.position), deployed };
}
