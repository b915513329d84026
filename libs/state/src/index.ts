export * from './state.keys';
export * from './fleet.repository';
export * from './fleet.redis-repository';
