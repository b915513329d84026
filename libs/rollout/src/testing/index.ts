// Test-only face: specs import it as @ioplane/rollout/testing; production code never does (a spec checks).
export * from './runbook.fixture';
export * from './slice.fixture';
