export * from './module.report';
export * from './module.check';
export * from './module.upload';
export * from './module.catalog-service';
export * from './module.public';
