import { badRequest, conflict, forbidden, notFound } from './maas-sim.errors';
import { allocateFilter, describeConstraints, readFilter } from './maas-sim.filters';
import { renderDevices, renderInterface, renderMachine } from './maas-sim.render';
import type { Handler, RequestContext, Route } from './maas-sim.router';
import { STATUS } from './maas-sim.status';
import type { SimMachine } from './maas-sim.store';

const machineOf = (ctx: RequestContext) => ctx.store.get(ctx.args[0]);
const nodeOf = (ctx: RequestContext) => ctx.store.get(ctx.args[0], 'Node');
const render = (ctx: RequestContext, m: SimMachine) => renderMachine(ctx.store, m);

const list: Handler = (ctx) => {
  const pred = readFilter(ctx.store, ctx.query);
  return ctx.store
    .list()
    .filter(pred)
    .map((m) => render(ctx, m));
};

/** Wraps a state-changing op so it answers with the full machine, like every MAAS machine op. */
function mutate(fn: (ctx: RequestContext, m: SimMachine) => void): Handler {
  return (ctx) => {
    const m = machineOf(ctx);
    fn(ctx, m);
    return render(ctx, m);
  };
}

const allocate: Handler = (ctx) => {
  const pred = allocateFilter(ctx.store, ctx.form);
  // MAAS prefers the cheapest fit; fewest cores, then least memory.
  const candidates = ctx.store
    .list()
    .filter((m) => m.status === STATUS.READY && m.owner === null && !m.locked && pred(m))
    .sort((a, b) => a.model.cpuCount - b.model.cpuCount || a.model.memoryMiB - b.model.memoryMiB || (a.systemId < b.systemId ? -1 : 1));
  const m = candidates[0];
  if (!m) throw conflict(`No available machine matches constraints: ${describeConstraints(ctx.form)}`);
  if (!ctx.form.bool('dry_run')) ctx.lifecycle.acquire(m, ctx.user, ctx.form.get('comment'));
  return render(ctx, m);
};

const update: Handler = (ctx) => {
  const m = machineOf(ctx);
  if (m.locked) throw forbidden(`Machine ${m.hostname} (${m.systemId}) is locked; unlock it first.`);
  const f = ctx.form;
  const hostname = f.get('hostname');
  if (hostname !== undefined) {
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(hostname)) throw badRequest({ hostname: [`Invalid hostname: ${hostname}`] });
    if (ctx.store.list().some((x) => x !== m && x.hostname === hostname))
      throw badRequest({ hostname: [`Node with hostname "${hostname}" already exists`] });
    m.hostname = hostname;
  }
  const description = f.get('description');
  if (description !== undefined) m.description = description;
  const zone = f.get('zone');
  if (zone !== undefined) {
    ctx.store.requireZones([zone]);
    m.zone = zone;
  }
  const pool = f.get('pool');
  if (pool !== undefined) {
    ctx.store.requirePools([pool]);
    m.pool = pool;
  }
  return render(ctx, m);
};

const annotate = mutate((ctx, m) => ctx.lifecycle.setAnnotations(m, ctx.user, ctx.form.entries));

const scriptsOf = (ctx: RequestContext, key: string) => ctx.form.list(key, true);

export const machineRoutes: Route[] = [
  {
    pattern: /^machines\/$/,
    handlers: {
      GET: list,
      'POST allocate': allocate,
      'GET is_registered': (ctx) => {
        const mac = (ctx.query.get('mac_address') ?? '').toLowerCase().replace(/-/g, ':');
        return ctx.store.list().some((m) => m.model.interfaces.some((i) => i.macAddress === mac));
      },
      'GET list_allocated': (ctx) =>
        ctx.store
          .list()
          .filter((m) => m.owner === ctx.user)
          .map((m) => render(ctx, m)),
    },
  },
  {
    pattern: /^machines\/([^/]+)\/$/,
    handlers: {
      GET: (ctx) => render(ctx, machineOf(ctx)),
      PUT: update,
      'GET query_power_state': (ctx) => ({ state: machineOf(ctx).powerState }),
      'POST deploy': mutate((ctx, m) =>
        ctx.lifecycle.deploy(m, ctx.user, {
          distroSeries: ctx.form.get('distro_series'),
          osystem: ctx.form.get('osystem'),
          userDataBase64: ctx.form.get('user_data'),
        }),
      ),
      'POST release': mutate((ctx, m) =>
        ctx.lifecycle.release(m, ctx.user, { erase: ctx.form.bool('erase'), comment: ctx.form.get('comment') }),
      ),
      'POST commission': mutate((ctx, m) => ctx.lifecycle.commission(m, ctx.user, scriptsOf(ctx, 'commissioning_scripts'))),
      'POST test': mutate((ctx, m) => ctx.lifecycle.test(m, ctx.user, scriptsOf(ctx, 'testing_scripts'))),
      'POST lock': mutate((ctx, m) => ctx.lifecycle.lock(m, ctx.user)),
      'POST unlock': mutate((ctx, m) => ctx.lifecycle.unlock(m, ctx.user)),
      'POST set_workload_annotations': annotate,
      'POST set_owner_data': annotate,
      'POST power_on': mutate((ctx, m) => ctx.lifecycle.powerOn(m, ctx.user)),
      'POST power_off': mutate((ctx, m) => ctx.lifecycle.powerOff(m, ctx.user)),
      'POST mark_broken': mutate((ctx, m) =>
        ctx.lifecycle.markBroken(m, ctx.user, ctx.form.get('comment') ?? ctx.form.get('error_description') ?? ''),
      ),
      'POST mark_fixed': mutate((ctx, m) => ctx.lifecycle.markFixed(m, ctx.user)),
      'POST abort': mutate((ctx, m) => ctx.lifecycle.abort(m, ctx.user)),
      'POST rescue_mode': mutate((ctx, m) => ctx.lifecycle.rescueMode(m, ctx.user)),
      'POST exit_rescue_mode': mutate((ctx, m) => ctx.lifecycle.exitRescueMode(m, ctx.user)),
    },
  },
  {
    pattern: /^nodes\/$/,
    handlers: { GET: list },
  },
  {
    pattern: /^nodes\/([^/]+)\/$/,
    handlers: { GET: (ctx) => render(ctx, nodeOf(ctx)) },
  },
  {
    pattern: /^nodes\/([^/]+)\/interfaces\/$/,
    handlers: { GET: (ctx) => nodeOf(ctx).model.interfaces.map((i) => renderInterface(nodeOf(ctx), i)) },
  },
  {
    pattern: /^nodes\/([^/]+)\/interfaces\/([^/]+)\/$/,
    handlers: {
      GET: (ctx) => {
        const m = nodeOf(ctx);
        const key = ctx.args[1];
        const i = m.model.interfaces.find((x) => String(x.id) === key || x.name === key);
        if (!i) throw notFound('No Interface matches the given query.');
        return renderInterface(m, i);
      },
    },
  },
  {
    pattern: /^nodes\/([^/]+)\/devices\/$/,
    handlers: {
      GET: (ctx) => {
        const q = ctx.query;
        const want = (key: string, value: unknown) => {
          const v = q.list(key);
          return v.length === 0 || v.includes(String(value));
        };
        return renderDevices(nodeOf(ctx)).filter(
          (d) =>
            want('hardware_type', d.hardware_type) &&
            want('vendor_id', d.vendor_id) &&
            want('product_id', d.product_id) &&
            want('commissioning_driver', d.commissioning_driver) &&
            want('numa_node', d.numa_node) &&
            want('pci_address', d.pci_address),
        );
      },
    },
  },
  {
    pattern: /^nodes\/([^/]+)\/blockdevices\/$/,
    handlers: { GET: (ctx) => render(ctx, nodeOf(ctx)).blockdevice_set as unknown[] },
  },
];
