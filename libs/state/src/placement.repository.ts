export type PlacementStatus =
  | 'queued'
  | 'planning'
  | 'planned'
  | 'infeasible'
  | 'rolling-out'
  | 'paused'
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'rolling-back'
  | 'rolled-back';

export interface PlacementRecord {
  id: string;
  request: unknown;
  status: PlacementStatus;
  reason: string;
  idempotencyKey: string | null;
  createdAt: string;
  updatedAt: string;
  error: string | null;
}

export interface PlacementRepository {
  /**
   * Stores a new placement unless the idempotency key is already taken, in which case the
   * placement stored under that key comes back with `created: false`.
   */
  create(rec: PlacementRecord): Promise<{ record: PlacementRecord; created: boolean }>;
  get(id: string): Promise<PlacementRecord | null>;
  list(limit?: number): Promise<PlacementRecord[]>;
  setStatus(id: string, status: PlacementStatus, error?: string | null): Promise<void>;
  putPlan(id: string, plan: unknown): Promise<void>;
  getPlan<T>(id: string): Promise<T | null>;
  /** Removes a placement that was never queued (enqueue failed), so nothing half-made stays. */
  remove(id: string): Promise<void>;
}

/** Statuses after which a placement changes no machine any more: the machines it leased are free. */
export const PLACEMENT_ENDED: ReadonlySet<PlacementStatus> = new Set<PlacementStatus>([
  'infeasible',
  'completed',
  'failed',
  'cancelled',
  'rolled-back',
]);

/** Whether a lease's owner has ended; a placement that is gone (never queued) has too. */
export async function placementEnded(placements: Pick<PlacementRepository, 'get'>, id: string): Promise<boolean> {
  const rec = await placements.get(id);
  return !rec || PLACEMENT_ENDED.has(rec.status);
}
