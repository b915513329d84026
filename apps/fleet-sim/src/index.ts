export { startMaasSimulator, type MaasSimOptions, type MaasSimulator } from './maas-sim.server';
export {
  loadFleetFile,
  parseFleetFile,
  fleetFileSchema,
  FleetFileError,
  INITIAL_STATUSES,
  type FleetFile,
  type FleetHost,
  type FleetFileErrorCode,
} from './fleet-file';
export {
  buildFleetModel,
  systemIdFor,
  type FleetModel,
  type ModelMachine,
  type ModelInterface,
  type ModelZone,
  type ModelPool,
  type ModelTag,
} from './fleet-model';
export {
  NIC_MODELS,
  DPU_MODELS,
  NIC_MODEL_KEYS,
  DPU_MODEL_KEYS,
  type NicModel,
  type NicModelKey,
  type DpuModel,
  type DpuModelKey,
} from '@ioplane/domain';
export { type FaultControls, type FaultSettings, NO_FAULTS } from './maas-sim.faults';
export { buildOAuthHeader, parseApiKey, generateApiKey, type ApiKey } from './maas-sim.auth';
export { MaasSimStore, type SimMachine, type PowerState } from './maas-sim.store';
export { STATUS, statusLabel, statusName, statusFromName } from './maas-sim.status';
export { formatEventDate, LEVELS } from './maas-sim.events';
export { MAAS_VERSION } from './maas-sim.handlers.catalog';
export { startSimAgents, simulatedDevices, agentIdFor, SimAgentStartError, type SimAgentOptions, type SimAgents } from './maas-sim.agents';
export { loadScenario, parseScenario, trafficAt, ppsAt, ScenarioFileError, type Scenario, type TrafficPattern } from './scenario.file';
export { ScenarioPlayer, type StepReport } from './scenario.player';
export {
  WireTraffic,
  WireTrafficError,
  MAX_WIRE_PPS,
  MAX_BURST_PACKETS,
  WIRE_UDP_PORT,
  type BurstResult,
  type SteadySender,
} from './fleet-sim.traffic';
