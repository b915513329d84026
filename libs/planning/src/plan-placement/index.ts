export * from './plan-placement.command';
export * from './plan-placement.usecase';
