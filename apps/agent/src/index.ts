export { startAgent, AgentOptionError } from './agent.server';
export type { AgentOptions, AgentMachine, RunningAgent } from './agent.server';
export { createDrivers } from './agent.drivers';
export type { DriverSet, DriverSetup } from './agent.drivers';
