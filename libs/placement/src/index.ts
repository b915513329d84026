export * from './placement.model';
export {
  usageOf,
  costOf,
  latencyOf,
  tierOf,
  isFlowTarget,
  isHostTarget,
  flavoursOf,
  hostExtraNs,
  HOST_CPU_FLAVOUR,
  HOST_KERNEL_FLAVOUR,
  FLOW_OFFLOAD_LATENCY_US,
  DEFAULT_ARM_CORES,
  DEFAULT_ARM_SLOWDOWN,
} from './cost.model';
export type { Usage } from './cost.model';
export { buildProblem, sortChain, devicesOf, trafficFor, follows } from './machine.problem';
export { resolvePorts, chainRates, hookSlots, hookInterface, passOf, HOST_SLOTS_KEY } from './port.paths';
export type { PortPath } from './port.paths';
export { evaluate } from './plan.evaluate';
export type { MachineProblem, Candidate, Resource, ResourceKind } from './machine.problem';
export type { Assignment, Evaluation } from './plan.evaluate';
export { branchAndBound, chainBound } from './exact.solver';
export type { SolveResult } from './exact.solver';
export { heuristicSolve, filterAndScore, localSearch } from './heuristic.solver';
export { loadHighs, milpSolve, machineMilp, EXACT_OPTIONS } from './milp.solver';
export type { HighsSolver, MilpResult } from './milp.solver';
export { solveProblem, solveProblemMilp, decisionsOf } from './machine.solver';
export { materialise, planMachine } from './plan.materialise';
export type { SolverMode, SolveOptions, MachineSolution } from './machine.solver';
export { EquivalenceCache } from './equivalence.cache';
export type { EquivalenceClass, CacheOptions } from './equivalence.cache';
export { planFleet, machinePlan, machinePlans, matchesSelector, replicaDemand } from './fleet.planner';
export type { FleetPlan, FleetPlanOptions } from './fleet.planner';
export type { ScopedPlacement, ScopedReplica } from './fleet.scope';
export { validatePlan } from './plan.validate';
export type { PlanViolation, ViolationRule } from './plan.validate';
export { flavourFromProfile, placementDevice } from './placement.adapter';
export type { DecisionTemplate } from './plan.explain';
export { breakdownWords } from './plan.words';
export { seededRandom, randomInstance, randomVerdicts, catalogDevice, CATALOG, withPorts } from './placement.generator';
export type { RandomInstanceOptions } from './placement.generator';
