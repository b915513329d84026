import { Params } from './maas-sim.body';
import { badRequest } from './maas-sim.errors';
import { EventQueryError } from './maas-sim.events';
import { readFilter } from './maas-sim.filters';
import { API_PREFIX, renderMachine, renderPool, renderTag, renderZone } from './maas-sim.render';
import { Reply, type Handler, type RequestContext, type Route } from './maas-sim.router';
import { notFound } from './maas-sim.errors';

export const MAAS_VERSION = '3.5.4';
export const MAAS_SUBVERSION = '3.5.4-16393-g.06b8bf1f9';

export const CAPABILITIES = [
  'networks-management',
  'static-ipaddresses',
  'ipv6-deployment-ubuntu',
  'devices-management',
  'storage-deployment-ubuntu',
  'network-deployment-ubuntu',
  'bridging-interface-ubuntu',
  'bridging-automatic-ubuntu',
  'authenticate-api',
];

const user = (ctx: RequestContext) => ({
  is_superuser: true,
  username: ctx.user,
  email: `${ctx.user}@example.com`,
  is_local: true,
  resource_uri: `${API_PREFIX}users/${encodeURIComponent(ctx.user)}/`,
});

const TAG_NAME = /^[\w-]+$/;

const createTag: Handler = (ctx) => {
  const f = ctx.form;
  const name = f.get('name');
  if (!name) throw badRequest({ name: ['This field is required.'] });
  if (!TAG_NAME.test(name)) throw badRequest({ name: ['Invalid character in tag name.'] });
  if (ctx.store.tags.has(name)) throw badRequest({ name: ['Tag with this Name already exists.'] });
  const tag = { name, comment: f.get('comment') ?? '', definition: f.get('definition') ?? '', kernelOpts: f.get('kernel_opts') ?? '' };
  ctx.store.tags.set(name, tag);
  return renderTag(tag);
};

const updateTag: Handler = (ctx) => {
  const tag = ctx.store.getTag(ctx.args[0]);
  const f = ctx.form;
  const rename = f.get('name');
  if (rename !== undefined && rename !== tag.name) {
    if (!TAG_NAME.test(rename)) throw badRequest({ name: ['Invalid character in tag name.'] });
    if (ctx.store.tags.has(rename)) throw badRequest({ name: ['Tag with this Name already exists.'] });
    ctx.store.tags.delete(tag.name);
    for (const m of ctx.store.list()) {
      if (m.tags.delete(tag.name)) m.tags.add(rename);
    }
    tag.name = rename;
    ctx.store.tags.set(rename, tag);
  }
  tag.comment = f.get('comment') ?? tag.comment;
  tag.definition = f.get('definition') ?? tag.definition;
  tag.kernelOpts = f.get('kernel_opts') ?? tag.kernelOpts;
  return renderTag(tag);
};

const deleteTag: Handler = (ctx) => {
  const tag = ctx.store.getTag(ctx.args[0]);
  ctx.store.tags.delete(tag.name);
  for (const m of ctx.store.list()) m.tags.delete(tag.name);
  return new Reply(204, null);
};

/** The only way MAAS tags a machine by hand; counts the machines it found, unknown ids are ignored. */
const updateNodes: Handler = (ctx) => {
  const tag = ctx.store.getTag(ctx.args[0]);
  if (tag.definition) throw badRequest(`Tag ${tag.name} is defined by an XPath expression; its nodes cannot be changed manually.`);
  const add = ctx.form
    .list('add')
    .map((id) => ctx.store.find(id))
    .filter((m) => m !== undefined);
  const remove = ctx.form
    .list('remove')
    .map((id) => ctx.store.find(id))
    .filter((m) => m !== undefined);
  for (const m of add) m.tags.add(tag.name);
  for (const m of remove) m.tags.delete(tag.name);
  return { added: add.length, removed: remove.length };
};

const taggedMachines: Handler = (ctx) => {
  const tag = ctx.store.getTag(ctx.args[0]);
  return ctx.store
    .list()
    .filter((m) => m.tags.has(tag.name))
    .map((m) => renderMachine(ctx.store, m));
};

const findPool = (ctx: RequestContext) => {
  const key = ctx.args[0];
  const pool = [...ctx.store.pools.values()].find((p) => String(p.id) === key || p.name === key);
  if (!pool) throw notFound('No ResourcePool matches the given query.');
  return pool;
};

const EVENT_NODE_FILTERS = ['id', 'hostname', 'mac_address', 'zone', 'pool', 'domain'];

const queryEvents: Handler = (ctx) => {
  const q = ctx.query;
  const nodeParams = new Params(q.entries.filter(([k]) => EVENT_NODE_FILTERS.includes(k)));
  const systemIds = nodeParams.entries.length
    ? new Set(
        ctx.store
          .list()
          .filter(readFilter(ctx.store, nodeParams))
          .map((m) => m.systemId),
      )
    : undefined;
  try {
    return ctx.store.events.query(
      { level: q.get('level'), after: q.int('after'), before: q.int('before'), limit: q.int('limit'), owner: q.get('owner'), systemIds },
      [['op', 'query'], ...q.entries],
      `${API_PREFIX}events/`,
    );
  } catch (e) {
    if (e instanceof EventQueryError) throw badRequest(e.message);
    throw e;
  }
};

export const catalogRoutes: Route[] = [
  {
    pattern: /^version\/$/,
    anonymous: true,
    handlers: { GET: () => ({ capabilities: CAPABILITIES, version: MAAS_VERSION, subversion: MAAS_SUBVERSION }) },
  },
  {
    pattern: /^describe\/$/,
    anonymous: true,
    handlers: { GET: () => ({ doc: 'MAAS API', handlers: [], resources: [] }) },
  },
  { pattern: /^users\/$/, handlers: { GET: (ctx) => [user(ctx)], 'GET whoami': user } },
  { pattern: /^tags\/$/, handlers: { GET: (ctx) => [...ctx.store.tags.values()].map(renderTag), POST: createTag } },
  {
    pattern: /^tags\/([^/]+)\/$/,
    handlers: {
      GET: (ctx) => renderTag(ctx.store.getTag(ctx.args[0])),
      PUT: updateTag,
      DELETE: deleteTag,
      'POST update_nodes': updateNodes,
      'GET machines': taggedMachines,
      'GET nodes': taggedMachines,
    },
  },
  {
    pattern: /^zones\/$/,
    handlers: {
      GET: (ctx) => [...ctx.store.zones.values()].map(renderZone),
      POST: (ctx) => {
        const name = ctx.form.get('name');
        if (!name) throw badRequest({ name: ['This field is required.'] });
        if (ctx.store.zones.has(name)) throw badRequest({ name: ['Zone with this Name already exists.'] });
        const zone = {
          id: Math.max(...[...ctx.store.zones.values()].map((z) => z.id)) + 1,
          name,
          description: ctx.form.get('description') ?? '',
        };
        ctx.store.zones.set(name, zone);
        return renderZone(zone);
      },
    },
  },
  {
    pattern: /^zones\/([^/]+)\/$/,
    handlers: {
      GET: (ctx) => {
        const zone = ctx.store.zones.get(ctx.args[0]);
        if (!zone) throw notFound('No Zone matches the given query.');
        return renderZone(zone);
      },
    },
  },
  {
    pattern: /^resourcepools\/$/,
    handlers: {
      GET: (ctx) => [...ctx.store.pools.values()].map(renderPool),
      POST: (ctx) => {
        const name = ctx.form.get('name');
        if (!name) throw badRequest({ name: ['This field is required.'] });
        if (ctx.store.pools.has(name)) throw badRequest({ name: ['Resource pool with this Name already exists.'] });
        const pool = {
          id: Math.max(...[...ctx.store.pools.values()].map((p) => p.id)) + 1,
          name,
          description: ctx.form.get('description') ?? '',
        };
        ctx.store.pools.set(name, pool);
        return renderPool(pool);
      },
    },
  },
  { pattern: /^resourcepool\/([^/]+)\/$/, handlers: { GET: (ctx) => renderPool(findPool(ctx)) } },
  { pattern: /^events\/$/, handlers: { 'GET query': queryEvents } },
];
