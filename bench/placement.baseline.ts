import { MachinePlan, PlacementMachine, PlacementModule, planMachine } from '@ioplane/placement';

export const BASELINE_DESCRIPTION =
  'per machine, no classes: build its problem (every port\'s path), filter-and-score along each port (the cheapest hook that still fits what earlier modules left, no look-ahead), explain every decision';

/** The filter-and-score baseline: one machine at a time, the same plan shape and explanations as the engine. */
export function baselinePlan(machine: PlacementMachine, modules: readonly PlacementModule[]): MachinePlan {
  return planMachine(machine, modules, { solver: 'greedy' });
}
