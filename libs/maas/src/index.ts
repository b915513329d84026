export {
  MaasClient,
  type AllocateConstraints,
  type CallOptions,
  type DeployOptions,
  type EventLevel,
  type EventQuery,
  type MachineFilter,
  type ReleaseOptions,
} from './maas.client';
export { type MaasClientOptions, type RetryInfo } from './maas.transport';
export {
  MaasError,
  MaasAuthError,
  MaasForbiddenError,
  MaasNotFoundError,
  MaasConflictError,
  MaasValidationError,
  MaasUnavailableError,
  MaasConfigError,
  type MaasErrorCode,
} from './maas.errors';
export { MaasEventCursor, deployedTransitions, type DeployedTransition, type MaasEventCursorOptions } from './maas.events';
export { toMachine, toNetInterface, toPciDevice, normalisePciId } from './maas.mapper';
export { oauthHeader } from './maas.oauth';
export type { MaasVersion, MaasWhoami, RawEvent, RawInterface, RawMachine, RawPciDevice, RawPool, RawTag, RawZone } from './maas.schemas';
