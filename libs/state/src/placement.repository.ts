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
