export { ModuleError, toModuleIssue } from './manifest.error';
export type { ModuleErrorCode, ModuleIssue } from './manifest.error';
export { moduleManifestSchema, asManifest, MODULE_NAME, PROGRAM_TYPES } from './manifest.schema';
export type { ModuleManifest, MapSeed, ProgramTypeName } from './manifest.schema';
export { loadModule, loadCatalog, DEFAULT_MODULES_DIR, MANIFEST_FILE } from './module.catalog';
export {
  buildPacket,
  packetHex,
  internetChecksum,
  parseMac,
  parseIpv4,
  PacketFieldError,
  DEFAULT_ETH_SRC,
  DEFAULT_ETH_DST,
  DEFAULT_INNER_ETH_SRC,
  DEFAULT_INNER_ETH_DST,
  DEFAULT_TTL,
  VXLAN_PORT,
  VXLAN_SRC_PORT,
} from './packet.builder';
