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
  // KNOWN DEFECT: on this 2-core machine jest runs every test file inside its own main process, in band
  // (maxWorkers 1), and once in the fault suite's ten runs (stop 23) that process, with every test passed
  // and its event loop drained, spun in Node's exit cleanup (gdb: FreeEnvironment ->
  // CleanupHandles -> uv_run) on a TCP handle left CLOSED but open, bound to an agent-relay address
  // of the agent-outage tests. Not fixed yet: forceExit ends the run; every test still runs and must pass.
  forceExit: true,
  projects: [
    { ...common, displayName: 'unit', roots: ['<rootDir>/libs', '<rootDir>/apps'], testMatch: ['**/*.spec.ts'] },
    { ...common, displayName: 'e2e', roots: ['<rootDir>/test'], testMatch: ['**/*.e2e-spec.ts'] },
  ],
};
