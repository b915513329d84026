export {
  XDP_HOOKS,
  FAULT_KINDS,
  matchActionSchema,
  loadBodySchema,
  moduleArtifactSchema,
  portBodySchema,
  probeBodySchema,
  rollbackBodySchema,
  flashBodySchema,
  vectorsBodySchema,
  faultsBodySchema,
  deviceFaultsSchema,
  faultsResponseSchema,
} from './agent.schemas';
export type {
  XdpHook,
  FaultKind,
  FaultSpec,
  DeviceFaults,
  LoadBody,
  FlashBody,
  VectorsBody,
  FaultsBody,
  ModuleArtifactWire,
} from './agent.schemas';
export * from './agent.responses';
export { AgentClient, AgentError, signedLoadBody } from './agent.client';
export type { SignedModuleInput } from './agent.client';
export { agentDeadlinesFromProfiles, DEFAULT_AGENT_DEADLINES } from './agent.deadlines';
export type { AgentDeadlines } from './agent.deadlines';
export { agentToken } from './agent.token';
export { generateSigningKeys, signArtifact, verifyArtifact, sha256Hex } from './artifact.signature';
export type { SigningKeys } from './artifact.signature';
