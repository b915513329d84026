export * from './rebalance.policy';
export * from './telemetry.window';
export * from './rebalance.evaluate';
export * from './rebalance.decide';
export * from './rebalance.proposal';
