export const MODULE_CATALOG = Symbol('MODULE_CATALOG');
export const PROFILES = Symbol('PROFILES');
