export { buildModule, computeDigest } from './module.builder';
export type { BuildInput, BuildOptions } from './module.builder';
export { adoptArtifact, importObject, IMPORTED_CLANG_VERSION } from './artifact.cache';
export type { BuildArtifact } from './artifact.cache';
export { BuildError } from './build.error';
export { oncePerKey } from './build.once';
export type { BuildErrorCode, Diagnostic } from './build.error';
export { scanIncludes, scanPreprocessed, scanPreprocessedAsync } from './include.scanner';
export { loadToolchain, findBpftool } from './clang.toolchain';
export type { Toolchain } from './clang.toolchain';
export { runProcess, withLimits } from './process.runner';
export type { RunOptions, RunResult, ResourceLimits } from './process.runner';
export {
  runSandboxed,
  sandboxAvailable,
  sandboxAvailableSync,
  sandboxedCommand,
  bindsForPaths,
  capHit,
  SANDBOX_BUILD_DIR,
} from './os.sandbox';
export type { SandboxOptions, SandboxProfile, SandboxBind, SandboxAvailability, SandboxedCommand } from './os.sandbox';
