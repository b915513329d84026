export * from './module.report';
export * from './module.check';
