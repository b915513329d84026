// Test-only face: specs import it as @ioplane/domain/testing; production code never does (a spec checks).
export * from './fleet.fixture';
