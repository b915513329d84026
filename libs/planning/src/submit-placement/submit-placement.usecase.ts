import type { ModuleCatalog } from '@ioplane/catalog';
import { addJob, jobs, JobQueue, newPlacementId } from '@ioplane/queue';
import { placementEnded } from '@ioplane/state';
import type { FleetRepository, PlacementRecord, PlacementRepository, RolloutRepository } from '@ioplane/state';
import { resolveModules, selectMachines } from '../placement.planner';
import { submitPlacementCommand, SubmitPlacementCommand } from './submit-placement.command';

export interface SubmitPlacementDeps {
  placements: PlacementRepository;
  catalog: ModuleCatalog;
  fleet: FleetRepository;
  /** The placement queue its plan job goes to. */
  planQueue: JobQueue;
  /** Leases for `leaseNow`: all or none; MachineLeased when another unfinished placement holds some. */
  leases: Pick<RolloutRepository, 'claimMachines'>;
  newId?: () => string;
}

/** An Idempotency-Key reused for a different request: the caller's mistake, never silently merged. */
export class IdempotencyConflictError extends Error {
  readonly code = 'idempotency_conflict';
  readonly field = 'Idempotency-Key';
  constructor(
    readonly key: string,
    readonly placementId: string,
  ) {
    super(
      `Idempotency-Key ${key} was already used for placement ${placementId} with a different request body; use a new key for a different request`,
    );
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
 * Submit a placement, then queue its plan: the one way a placement enters the system, whoever
 * asks (operator, rebalancing, provisioning). Everything the request names is checked first, so
 * a refused request leaves neither a record nor a job behind; a lease or queue failure after the
 * record was stored removes it again.
 */
export class SubmitPlacement {
  constructor(private readonly deps: SubmitPlacementDeps) {}

  async execute(input: SubmitPlacementCommand): Promise<{ record: PlacementRecord; created: boolean }> {
    const { request: req, idempotencyKey, leaseNow } = submitPlacementCommand.parse(input);
    const d = this.deps;
    await resolveModules(req, d.catalog);
    const { eligible } = await selectMachines(req, d.fleet);
    const now = new Date().toISOString();
    const rec: PlacementRecord = {
      id: (d.newId ?? newPlacementId)(),
      request: req,
      status: 'queued',
      reason: req.reason,
      idempotencyKey,
      createdAt: now,
      updatedAt: now,
      error: null,
    };
    const { record, created } = await d.placements.create(rec);
    if (!created) {
      // Compared after validation, so defaults the schema filled in count the same on both sides.
      if (idempotencyKey && canonical(record.request) !== canonical(req)) throw new IdempotencyConflictError(idempotencyKey, record.id);
      return { record, created };
    }
    try {
      if (leaseNow)
        await d.leases.claimMachines(
          record.id,
          eligible.map((m) => m.systemId),
          (owner) => placementEnded(d.placements, owner),
        );
      await addJob(d.planQueue, jobs.plan(record.id));
    } catch (e) {
      await d.placements.remove(record.id);
      throw e;
    }
    return { record, created };
  }
}
