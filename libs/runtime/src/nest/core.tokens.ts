/** Injection tokens shared by every ioplane Nest app. */
export const IOPLANE_CONFIG = Symbol('IOPLANE_CONFIG');
export const STATE_REDIS = Symbol('STATE_REDIS');
export const FLEET_REPOSITORY = Symbol('FLEET_REPOSITORY');
