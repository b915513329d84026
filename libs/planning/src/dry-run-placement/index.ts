export * from './dry-run-placement.command';
export * from './dry-run-placement.usecase';
export * from './dry-run.outcome';
export * from './queued-dry-run';
