import type { ModuleCatalog } from '@ioplane/catalog';
import type { FleetRepository, PlacementRecord, PlacementRepository } from '@ioplane/state';
import { PlacementRequest } from './placement-request.schema';
import { resolveModules, selectMachines } from './placement.planner';

export interface SubmitDeps {
  placements: PlacementRepository;
  catalog: ModuleCatalog;
  fleet: FleetRepository;
  newId(): string;
  /**
   * Leases the machines the placement may change to it, all or none; throws (MachineLeased) when
   * another placement that has not ended holds some, and the stored placement is removed again.
   */
  claimMachines?(placementId: string, systemIds: string[]): Promise<void>;
  /** Queues the plan job; a failure here removes the stored placement again. */
  enqueuePlan(placementId: string): Promise<void>;
}

/** An Idempotency-Key reused for a different request: the caller's mistake, never silently merged. */
export class IdempotencyConflictError extends Error {
  readonly code = 'idempotency_conflict';
  readonly field = 'Idempotency-Key';
  constructor(readonly key: string, readonly placementId: string) {
    super(`Idempotency-Key ${key} was already used for placement ${placementId} with a different request body; use a new key for a different request`);
  }
}

/** JSON with object keys sorted, so two equal requests compare equal whatever order their fields came in. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * Stores a validated placement request and queues its plan. Everything the request names is
 * checked first, so a rejected request leaves neither a record nor a job behind.
 */
export async function submitPlacement(req: PlacementRequest, idempotencyKey: string | null, deps: SubmitDeps): Promise<{ record: PlacementRecord; created: boolean }> {
  await resolveModules(req, deps.catalog);
  const { eligible } = await selectMachines(req, deps.fleet);
  const now = new Date().toISOString();
  const rec: PlacementRecord = { id: deps.newId(), request: req, status: 'queued', reason: req.reason, idempotencyKey, createdAt: now, updatedAt: now, error: null };
  const { record, created } = await deps.placements.create(rec);
  if (!created) {
    // Compared after validation, so defaults the schema filled in count the same on both sides.
    if (idempotencyKey && canonical(record.request) !== canonical(req)) throw new IdempotencyConflictError(idempotencyKey, record.id);
    return { record, created };
  }
  try {
    await deps.claimMachines?.(record.id, eligible.map((m) => m.systemId));
    await deps.enqueuePlan(record.id);
  } catch (e) {
    await deps.placements.remove(record.id);
    throw e;
  }
  return { record, created };
}
