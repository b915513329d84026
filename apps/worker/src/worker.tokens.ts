export const MAAS_CLIENT = Symbol('MAAS_CLIENT');
export const PROFILES = Symbol('PROFILES');
