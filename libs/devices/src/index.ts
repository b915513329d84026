export { DeviceError } from './device.error';
export type { DeviceErrorCode } from './device.error';
export { chainDigest, XDP_HOOKS } from './device.driver';
export type {
  DeviceDriver,
  DriverKind,
  AttachMode,
  ChainModule,
  LoadRequest,
  LoadedModule,
  ChainState,
  ForeignProgram,
  PortInterface,
  PortPrograms,
  DeviceRunState,
  DevicePrograms,
  LoadResult,
  FirmwareImageRef,
  FirmwareSlot,
  FirmwareState,
  FlashImage,
  FlashOptions,
  FlashResult,
  RollbackResult,
  CommitResult,
  VectorRequest,
  VectorOutcome,
  DeployedRun,
  ModuleCounters,
  DeviceCounters,
  DeviceInventory,
  XdpHook,
  ChainMechanism,
  ChainSupport,
  ChainCapability,
  HookCounters,
} from './device.driver';
export { FaultBook, FAULT_KINDS } from './fault.book';
export type { FaultKind, FaultSpec, DeviceFaults } from './fault.book';
export { FirmwareSlots } from './firmware.slots';
export { EmulatedDevice } from './emulated/emulated.device';
export type { EmulatedDeviceOptions } from './emulated/emulated.device';
export { EmulatedNicDriver, EmulatedHostDriver } from './emulated-nic.driver';
export { EmulatedDpuDriver } from './emulated-dpu.driver';
export { KernelXdpDriver, bpffsRoot, hostTargets } from './kernel-xdp.driver';
export type { KernelXdpOptions } from './kernel-xdp.driver';
export { ensureXdpctl } from './kernel/xdpctl.tool';
export { machineNames, portInterface, removeMachine, netnsPath } from './kernel/netns.setup';
export { dispatcherSource } from './kernel/dispatcher.source';
export { CHAIN_HEADER, TAIL_CALL_SLOTS, HOOK_ROW } from './kernel/chain.root';
export { sleep, OpQueue } from './abort.sleep';
export { linuxName, IFNAMSIZ_MAX } from './kernel/netns.setup';
export {
  planTopology,
  buildTopology,
  removeTopology,
  removeLeftovers,
  machineNetns,
  flowerHits,
  FORWARD_PRIO,
  FLEET_MARKER_DIR,
} from './kernel/fleet.topology';
export type { MachineTopology, MachineTopologySpec, PortPath, PortPathSpec, PathHop, HopKind } from './kernel/fleet.topology';
export { sendAtWire } from './kernel/probe.traffic';
export { emulatedHostPorts, parseEmulatedPorts, emulatedPortsSchema } from './kernel/emulated.ports';
export type { EmulatedPortsSpec } from './kernel/emulated.ports';
export { hostInterfaces, parseIpLinks, parseEthtoolInfo, requireInterface } from './host/host.interfaces';
export type { HostInterface } from './host/host.interfaces';
export type { HostPorts } from './kernel-xdp.driver';
export { flowerCommands, flowerRemoveCommands, flowerVerdict, FLOWER_BASE_PRIO } from './hardware/flower.rules';
export type { FlowerPath, FlowLimits } from './hardware/flower.rules';
export { NfpXdpOffload, TcFlowerStage } from './hardware/hardware.stages';
export type { ToolRunner } from './hardware/hardware.stages';
export {
  flowTableEntries,
  loadFlowTable,
  readFlowTable,
  attachFlowTable,
  detachFlowTable,
  attachedFlowTable,
  kernelHasFlower,
  flowTableVerdict,
  FLOW_TABLE_PRIO,
} from './kernel/flow.table';
export type { FlowModule, FlowModuleCounters } from './kernel/flow.table';
export { FlowStage } from './emulated/flow.stage';
export type { FlowEngine } from './emulated/flow.stage';
