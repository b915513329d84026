import type { Params, UploadedFile } from './maas-sim.body';
import { badRequest, MaasError, notFound } from './maas-sim.errors';
import type { MachineLifecycle } from './maas-sim.lifecycle';
import type { MaasSimStore } from './maas-sim.store';

export interface RequestContext {
  method: string;
  op: string | undefined;
  /** Query string without `op`. */
  query: Params;
  /** Body parameters without `op` (POST/PUT). */
  form: Params;
  files: Map<string, UploadedFile>;
  user: string;
  store: MaasSimStore;
  lifecycle: MachineLifecycle;
  /** Capture groups of the matched route. */
  args: string[];
}

/** A handler's answer when it is not plain JSON with 200. */
export class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {}
}

export type Handler = (ctx: RequestContext) => unknown;

/** Keys are `GET`, `PUT`, `DELETE`, `POST` (no op) or `GET whoami` / `POST deploy` (with op). */
export interface Route {
  pattern: RegExp;
  anonymous?: boolean;
  handlers: Record<string, Handler>;
}

export interface Resolved {
  route: Route;
  args: string[];
  op: string | undefined;
}

/** Finds the route for a path relative to /MAAS/api/2.0/; an `op-<name>` last segment is the op. */
export function resolve(routes: Route[], relPath: string, queryOp: string | undefined): Resolved {
  let path = relPath;
  let op = queryOp;
  const suffix = /^(.*\/)?op-([^/]+)\/?$/.exec(path);
  if (suffix) {
    path = suffix[1] ?? '';
    op = suffix[2];
  }
  for (const route of routes) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    try {
      return { route, args: m.slice(1).map((s) => decodeURIComponent(s)), op };
    } catch {
      throw notFound('Not Found');
    }
  }
  throw notFound('Not Found');
}

/** MAAS's OperationsHandler dispatch: unknown (method, op) pairs are a 400, unknown methods a 405. */
export function pickHandler(route: Route, method: string, op: string | undefined): Handler {
  const handler = route.handlers[op ? `${method} ${op}` : method];
  if (handler) return handler;
  const methods = new Set(Object.keys(route.handlers).map((k) => k.split(' ')[0]));
  if (!methods.has(method)) {
    throw new MaasError(405, 'Method Not Allowed', { Allow: [...methods].join(', ') });
  }
  throw badRequest(`Unrecognised signature: method=${method} op=${op ?? 'None'}`);
}
