export const MAAS_CLIENT = Symbol('MAAS_CLIENT');
