// Test-only face: specs import it as @ioplane/compiler/testing; production code never does (a spec checks).
export * from './build.support';
export * from './kernel.support';
