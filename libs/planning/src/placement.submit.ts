import type { ModuleCatalog } from '@ioplane/catalog';
import type { FleetRepository, PlacementRecord, PlacementRepository } from '@ioplane/state';
import { PlacementRequest } from './placement-request.schema';
import { resolveModules, selectMachines } from './placement.planner';

export interface SubmitDeps {
  placements: PlacementRepository;
  catalog: ModuleCatalog;
  fleet: FleetRepository;
  newId(): string;
  /** Queues the plan job; a failure here removes the stored placement again. */
  enqueuePlan(placementId: string): Promise<void>;
}

/**
 * Stores a validated placement request and queues its plan. Everything the request names is
 * checked first, so a rejected request leaves neither a record nor a job behind.
 */
export async function submitPlacement(req: PlacementRequest, idempotencyKey: string | null, deps: SubmitDeps): Promise<{ record: PlacementRecord; created: boolean }> {
  await resolveModules(req, deps.catalog);
  await selectMachines(req, deps.fleet);
  const now = new Date().toISOString();
  const rec: PlacementRecord = { id: deps.newId(), request: req, status: 'queued', reason: req.reason, idempotencyKey, createdAt: now, updatedAt: now, error: null };
  const { record, created } = await deps.placements.create(rec);
  if (!created) return { record, created };
  try {
    await deps.enqueuePlan(record.id);
  } catch (e) {
    await deps.placements.remove(record.id);
    throw e;
  }
  return { record, created };
}
