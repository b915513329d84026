// Test-only: the lib's specs import it; production code never does (a spec checks).
export * from './maas-fleet.fixture';
