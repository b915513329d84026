export * from './submit-placement.command';
export * from './submit-placement.usecase';
