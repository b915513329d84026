export * from './rollout.plan';
export * from './machine.state';
