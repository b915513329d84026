export * from './state.keys';
export * from './fleet.repository';
export * from './fleet.redis-repository';
export * from './module.repository';
export * from './module.redis-repository';
export * from './placement.repository';
export * from './placement.redis-repository';
export * from './rollout.repository';
