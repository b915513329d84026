export { analyzeObject, analyzeObjectAsync, analyzeFile } from './object.analyzer';
export { decodeBtfMaps, readBtfMaps, readBtfMapsAsync, dumpBtf, BtfTypes } from './btf.maps';
export type { BtfMapInfo, BtfDump } from './btf.maps';
export {
  helperName,
  helperId,
  HELPER_COUNT,
  PACKET_RESIZE_HELPERS,
  PACKET_WRITE_HELPERS,
  TAIL_CALL_HELPER,
  REDIRECT_HELPERS,
} from './helper.table';
export {
  MAP_TYPE,
  mapTypeName,
  mapFlagNames,
  isPerCpu,
  hostMapBytes,
  BPF_F_NO_PREALLOC,
  BPF_F_RDONLY_PROG,
  BPF_F_MMAPABLE,
} from './map.types';
export { programTypeOf, sectionType, typeFromName, COMMON_TYPE_NAMES } from './program.type';
export type { SectionType } from './program.type';
export type {
  ObjectFacts,
  ProgramFacts,
  MapFacts,
  ProgramType,
  HelperUse,
  CallSite,
  MapUse,
  AtomicSite,
  BackEdge,
  PacketRewrite,
  OpcodeUse,
  XdpReturns,
  InsnRef,
  AnalyzeOptions,
  PointerKind,
  HelperArg,
  HelperCall,
  CtxAccess,
  AluSite,
  FrameFacts,
} from './analysis.types';
