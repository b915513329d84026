import type { HighsSolver } from '@ioplane/placement';
import { currentPlacement, planPlacement, PlannerDeps } from '../placement.planner';
import type { RolloutRepository } from '@ioplane/state';
import { dryRunPlacementCommand, DryRunPlacementCommand } from './dry-run-placement.command';
import { DryRunOutcome, refusalOf } from './dry-run.outcome';

export interface DryRunPlacementDeps extends Omit<PlannerDeps, 'highs' | 'current'> {
  rollouts: Pick<RolloutRepository, 'observed'>;
  /** HiGHS, loaded on first use and kept by the caller. */
  highs?: () => Promise<HighsSolver>;
}

/**
 * The worker's side of a dry run: plans the request over the current inventory exactly as the
 * plan job would, stores nothing, and answers the plan or the refusal (DryRunOutcome). Runs in
 * a worker so the API process never solves.
 */
export class DryRunPlacement {
  constructor(private readonly deps: DryRunPlacementDeps) {}

  async execute(input: DryRunPlacementCommand): Promise<DryRunOutcome> {
    const { request } = dryRunPlacementCommand.parse(input);
    const { rollouts, highs, ...d } = this.deps;
    try {
      const plan = await planPlacement('dry-run', request, {
        ...d,
        current: (id) => currentPlacement(rollouts, id),
        highs: await highs?.(),
      });
      return { ok: true, plan };
    } catch (e) {
      const refused = refusalOf(e);
      if (refused) return refused;
      throw e;
    }
  }
}
