// Test-only: the lib's specs import it; production code never does (a spec checks).
export * from './placement-module.fixture';
export * from './redis-catalog.fixture';
