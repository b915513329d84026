// @swc/jest instead of ts-jest: ts-jest needs TypeScript's JS API; swc also honours decorator metadata, which Nest DI needs.
const { pathsToModuleNameMapper } = require('./scripts/jest-paths');

const swc = ['@swc/jest', {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
  },
  module: { type: 'commonjs' },
}];

const common = {
  transform: { '^.+\\.ts$': swc },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: pathsToModuleNameMapper(),
  testEnvironment: 'node',
};

module.exports = {
  // One real Redis for every project: REDIS_URL, or a redis-server spawned for the run.
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  // Tests build real BPF objects and boot real fleets; a hang still fails, just not at 5 s.
  testTimeout: 60_000,
  // No forceExit: a test that leaves a handle open keeps jest from exiting, and a run that never
  // ends fails CI. (The hang once traced to Node's exit cleanup was the agent relay resetting a
  // socket whose shutdown was in flight: see sever() in test/faults/agent-link.fixture.ts.)
  projects: [
    { ...common, displayName: 'unit', roots: ['<rootDir>/libs', '<rootDir>/apps'], testMatch: ['**/*.spec.ts'] },
    { ...common, displayName: 'e2e', roots: ['<rootDir>/test'], testMatch: ['**/*.e2e-spec.ts'] },
  ],
};
