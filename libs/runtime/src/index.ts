export * from './config.schema';
export * from './config.loader';
export * from './redis.embedded';
export * from './system.check';
export * from './logger.options';
export * from './nest/core.tokens';
export * from './nest/core.module';
