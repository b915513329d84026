import type { Params } from './maas-sim.body';
import { badRequest } from './maas-sim.errors';
import { simpleStatus, statusFromName } from './maas-sim.status';
import type { MaasSimStore, SimMachine } from './maas-sim.store';

type Predicate = (m: SimMachine) => boolean;

const normMac = (s: string) => s.trim().toLowerCase().replace(/-/g, ':');

function archMatches(arch: string, wanted: string): boolean {
  // `amd64` matches `amd64/generic`; a full `arch/subarch` must match exactly.
  return wanted.includes('/') ? arch === wanted : arch.split('/')[0] === wanted;
}

function statuses(store: MaasSimStore, params: Params, key: string): number[] {
  return params.list(key).map((s) => {
    const code = statusFromName(s);
    if (code === undefined) throw badRequest({ [key]: [`Select a valid choice. ${s} is not one of the available choices.`] });
    return code;
  });
}

/**
 * Filters of `GET machines/` (and of `events/?op=query`): repeated values are OR-ed,
 * `tags` must all match, `not_*` excludes. Unknown tags, zones and pools are 400s.
 */
export function readFilter(store: MaasSimStore, params: Params): Predicate {
  const preds: Predicate[] = [];
  const ids = params.list('id');
  if (ids.length) preds.push((m) => ids.includes(m.systemId));
  const notIds = params.list('not_id');
  if (notIds.length) preds.push((m) => !notIds.includes(m.systemId));
  const hostnames = params.list('hostname');
  if (hostnames.length) preds.push((m) => hostnames.includes(m.hostname) || hostnames.includes(`${m.hostname}.${m.model.domain}`));
  const macs = params.list('mac_address').map(normMac);
  if (macs.length) preds.push((m) => m.model.interfaces.some((i) => macs.includes(i.macAddress)));
  const domains = params.list('domain');
  if (domains.length) preds.push((m) => domains.includes(m.model.domain));
  preds.push(...locationFilters(store, params, 'zone', 'not_in_zone', 'pool', 'not_in_pool'));
  preds.push(...tagFilters(store, params));
  const st = statuses(store, params, 'status');
  if (st.length) preds.push((m) => st.includes(m.status));
  const notSt = statuses(store, params, 'not_status');
  if (notSt.length) preds.push((m) => !notSt.includes(m.status));
  const simple = params.list('simple_status');
  if (simple.length) preds.push((m) => simple.includes(simpleStatus(m.status)));
  const owners = params.list('owner');
  if (owners.length) preds.push((m) => m.owner !== null && owners.includes(m.owner));
  const power = params.list('power_state');
  if (power.length) preds.push((m) => power.includes(m.powerState));
  preds.push(...capacityFilters(params));
  return (m) => preds.every((p) => p(m));
}

/** Constraints of `machines/?op=allocate` (AcquireNodeForm). */
export function allocateFilter(store: MaasSimStore, params: Params): Predicate {
  const preds: Predicate[] = [];
  const name = params.get('name');
  if (name) preds.push((m) => m.hostname === name || `${m.hostname}.${m.model.domain}` === name);
  const systemId = params.get('system_id');
  if (systemId) preds.push((m) => m.systemId === systemId);
  preds.push(...locationFilters(store, params, 'zone', 'not_in_zone', 'pool', 'not_in_pool'));
  preds.push(...tagFilters(store, params));
  preds.push(...capacityFilters(params));
  return (m) => preds.every((p) => p(m));
}

function locationFilters(
  store: MaasSimStore,
  params: Params,
  zoneKey: string,
  notZoneKey: string,
  poolKey: string,
  notPoolKey: string,
): Predicate[] {
  const preds: Predicate[] = [];
  const zones = params.list(zoneKey);
  store.requireZones(zones, zoneKey);
  if (zones.length) preds.push((m) => zones.includes(m.zone));
  const notZones = params.list(notZoneKey, true);
  store.requireZones(notZones, notZoneKey);
  if (notZones.length) preds.push((m) => !notZones.includes(m.zone));
  const pools = params.list(poolKey);
  store.requirePools(pools, poolKey);
  if (pools.length) preds.push((m) => pools.includes(m.pool));
  const notPools = params.list(notPoolKey, true);
  store.requirePools(notPools, notPoolKey);
  if (notPools.length) preds.push((m) => !notPools.includes(m.pool));
  return preds;
}

function tagFilters(store: MaasSimStore, params: Params): Predicate[] {
  const preds: Predicate[] = [];
  const tags = params.list('tags', true);
  store.requireTags(tags, 'tags');
  if (tags.length) preds.push((m) => tags.every((t) => m.tags.has(t)));
  const notTags = params.list('not_tags', true);
  store.requireTags(notTags, 'not_tags');
  if (notTags.length) preds.push((m) => !notTags.some((t) => m.tags.has(t)));
  return preds;
}

function capacityFilters(params: Params): Predicate[] {
  const preds: Predicate[] = [];
  const arches = params.list('arch');
  if (arches.length) preds.push((m) => arches.some((a) => archMatches(m.model.architecture, a)));
  const cpu = params.get('cpu_count');
  if (cpu) {
    const n = Number(cpu);
    if (!Number.isFinite(n)) throw badRequest({ cpu_count: ['Invalid CPU count: number required.'] });
    preds.push((m) => m.model.cpuCount >= n);
  }
  const mem = params.get('mem');
  if (mem) {
    const n = Number(mem);
    if (!Number.isFinite(n)) throw badRequest({ mem: ['Invalid memory: number of MiB required.'] });
    preds.push((m) => m.model.memoryMiB >= n);
  }
  return preds;
}

/** How MAAS echoes constraints in its 409: `[('zone', ['zone-x'])] (resolved to "zone=zone-x")`. */
export function describeConstraints(params: Params): string {
  const keys = [...new Set(params.entries.map(([k]) => k))].filter(
    (k) => !['op', 'agent_name', 'comment', 'dry_run', 'verbose', 'bridge_all', 'bridge_stp', 'bridge_fd'].includes(k),
  );
  const list = keys
    .map(
      (k) =>
        `('${k}', [${params
          .list(k)
          .map((v) => `'${v}'`)
          .join(', ')}])`,
    )
    .join(', ');
  const resolved = keys.map((k) => `${k}=${params.list(k).join(',')}`).join(' ');
  return `[${list}] (resolved to "${resolved}")`;
}
