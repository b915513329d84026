/** Injection tokens shared by every ioplane Nest app. */
export const IOPLANE_CONFIG = Symbol('IOPLANE_CONFIG');
export const STATE_REDIS = Symbol('STATE_REDIS');
/** The process's RedisConnections: the one owner of its Redis clients (a cluster's are shared with BullMQ). */
export const REDIS_CONNECTIONS = Symbol('REDIS_CONNECTIONS');
export const FLEET_REPOSITORY = Symbol('FLEET_REPOSITORY');
export const PLACEMENT_REPOSITORY = Symbol('PLACEMENT_REPOSITORY');
export const MODULE_CATALOG = Symbol('MODULE_CATALOG');
export const PROFILES = Symbol('PROFILES');
export const ROLLOUT_REPOSITORY = Symbol('ROLLOUT_REPOSITORY');
/** The controller's signing key and agent token secret (IOPLANE_KEYS_DIR). */
export const CONTROLLER_KEYS = Symbol('CONTROLLER_KEYS');
/** Per-host device facts from the agents, for planning. */
export const AGENT_FACTS = Symbol('AGENT_FACTS');
