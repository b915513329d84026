export { ProfileError } from './profile.error';
export type { ProfileErrorCode, ProfileIssue } from './profile.error';
export { firmwareProfileSchema, FLASH_TOOLS, PROFILE_KINDS, HOST_MAX_INSTRUCTIONS, HOST_STACK_BYTES } from './profile.schema';
export { loadProfiles, loadProfile, DEFAULT_PROFILES_DIR } from './profile.loader';
export { matchProfile, flavoursOf, detectDevices, isNetworkPciDevice, NIC_DRIVERS } from './profile.matcher';
export type { HardwareIdentity } from './profile.matcher';
