export * from './rollout.plan';
export * from './machine.state';
export * from './machine.desired';
export * from './machine.runbook';
export * from './rollout.orchestrator';
export * from './firmware.image';
export * from './store.retry';
export * from './reconcile';
