export * from './queue.names';
export * from './job.registry';
export * from './queue.connection';
export * from './fleet-sync.payload';
export * from './fleet-deploy.payload';
export * from './placement.payload';
export * from './redis.endpoint';
export * from './bull.errors';
