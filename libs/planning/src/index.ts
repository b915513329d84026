export * from './placement-request.schema';
export * from './problem.builder';
export * from './placement.plan';
export * from './placement.planner';
export * from './agent.facts';
export * from './submit-placement';
export * from './provisioning';
export * from './ingress.select';
