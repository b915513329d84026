import type { MachineTopology } from '@ioplane/devices';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { buildFleetModel, loadFleetFile, type FleetModel } from './fleet-file';
import { startSimAgents, type SimAgent, type SimAgentOptions, type SimAgents, type SimHardwareFaults } from './maas-sim.agents';
import { generateApiKey, OAuthVerifier, parseApiKey } from './maas-sim.auth';
import { Params, parseBody, readBody } from './maas-sim.body';
import { MaasError } from './maas-sim.errors';
import { FaultInjector, FaultSettingsError, type FaultControls } from './maas-sim.faults';
import { catalogRoutes } from './maas-sim.handlers.catalog';
import { machineRoutes } from './maas-sim.handlers.machines';
import { MachineLifecycle } from './maas-sim.lifecycle';
import { agentFromUserData } from './maas-sim.user-data';
import type { SimMachine } from './maas-sim.store';
import { API_PREFIX } from './maas-sim.render';
import { pickHandler, Reply, resolve, type Route } from './maas-sim.router';
import { MaasSimStore } from './maas-sim.store';
import { loadScenario } from './scenario.file';
import { ScenarioPlayer } from './scenario.player';
import { handleTraffic } from './maas-sim.handlers.traffic';
import { WireTraffic } from './fleet-sim.traffic';

export interface MaasSimOptions {
  fleetFile: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. Default 0. */
  port?: number;
  /** consumer_key:token_key:token_secret; generated when absent. */
  apiKey?: string;
  /** Multiplies every status delay; tests use e.g. 0.01. Default 1. */
  timeScale?: number;
  /** Starts one emulated host agent per simulated host (not per DPU) on its management address. */
  agents?: SimAgentOptions;
  /** Replays a workload scenario (`scenarios/*.yaml`) on the agents' emulated counters; `speed` accelerates it, `play: false` leaves stepping to the caller. */
  scenario?: { file: string; speed?: number; play?: boolean };
}

export interface MaasSimulator {
  /** e.g. http://127.0.0.1:5240/MAAS/ */
  url: string;
  /** e.g. http://127.0.0.1:5240/MAAS/api/2.0/ */
  apiUrl: string;
  apiKey: string;
  faults: FaultControls;
  /** The machine state machine; `failNextDeployment` makes MAAS fail a machine's next deployment. */
  lifecycle: MachineLifecycle;
  /** Read (and, for tests, drive) the simulated region: machines, tags, events, pending transitions. */
  store: MaasSimStore;
  model: FleetModel;
  /** Running agents by host system_id; empty without the `agents` option, emptied by close(). */
  agents: Map<string, SimAgent>;
  /** The port every host's agent listens on (at its MAAS address: 127.77.z.n embedded, 10.215.b.n on a packet-true fleet); 0 without agents. */
  agentPort: number;
  /** Prefix of this simulator's agent ids (`<agentInstanceId>-<systemId>`); null without agents. */
  agentInstanceId: string | null;
  /** Cabling and hardware-stage faults of a packet-true fleet; null without one. */
  hardware: SimHardwareFaults | null;
  /** A packet-true host's namespaces and port paths; null otherwise (see SimAgents.topology). */
  topology(systemId: string): MachineTopology | null;
  /** The credential of the agents' `PUT /v1/faults` (not an agent token); null without agents. */
  agentFaultToken: string | null;
  /** The scenario player, when started with `scenario`. */
  scenario: ScenarioPlayer | null;
  /** Real packets into a packet-true fleet's ports from their wire namespaces (also `/sim/traffic`); null without one. */
  traffic: WireTraffic | null;
  /** Stops the agents (removing the namespaces, bpffs pins and state they created), then MAAS. */
  close(): Promise<void>;
}

const ROUTES: Route[] = [...catalogRoutes, ...machineRoutes];
const SIM_PREFIX = '/sim/';

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  let payload = '';
  let type = 'text/plain; charset=utf-8';
  if (status !== 204) {
    if (typeof body === 'string') payload = body;
    else {
      payload = JSON.stringify(body);
      type = 'application/json; charset=utf-8';
    }
  }
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(payload), ...headers });
  res.end(payload);
}

export async function startMaasSimulator(opts: MaasSimOptions): Promise<MaasSimulator> {
  const model = buildFleetModel(loadFleetFile(opts.fleetFile));
  // A bad scenario file fails before anything listens.
  const scenarioFile = opts.scenario ? loadScenario(opts.scenario.file) : null;
  const apiKey = opts.apiKey ?? generateApiKey();
  const key = parseApiKey(apiKey);
  if (!key) throw new Error('apiKey must have the form consumer_key:token_key:token_secret');
  const timeScale = opts.timeScale ?? 1;
  if (!(timeScale >= 0)) throw new Error('timeScale must be a number >= 0');

  const faults = new FaultInjector();
  const store = new MaasSimStore(model, { timeScale });
  // A deployment replaces the machine's agent: the new one runs with what the user_data's cloud-init
  // would have written, or not at all. Changes to one machine's agent run in order.
  let agents: SimAgents | null = null;
  let traffic: WireTraffic | null = null;
  const agentChanges = new Map<string, Promise<void>>();
  const redeployAgent = (m: SimMachine, deployed: boolean): void => {
    if (!agents || m.model.isDpu) return;
    const a = agents;
    // The machine's ports go with its old OS: nothing keeps sending into them.
    void traffic?.stop(m.systemId);
    const found = deployed ? agentFromUserData(m.userData, m.systemId) : null;
    if (found && !found.ok) store.record(m, 'WARNING', 'ioplane agent', `no agent after this deployment: ${found.reason}`);
    const next = (agentChanges.get(m.systemId) ?? Promise.resolve())
      .then(() => a.redeploy(m.systemId, found?.ok ? found.settings : null))
      .catch((e: Error) => store.record(m, 'ERROR', 'ioplane agent', `agent did not start: ${e.message}`));
    agentChanges.set(m.systemId, next);
  };
  const lifecycle = new MachineLifecycle(store, () => faults.get().deployFailureRate, {
    deploying: (m) => redeployAgent(m, false),
    deployed: (m) => redeployAgent(m, true),
    released: (m) => redeployAgent(m, false),
  });
  const auth = new OAuthVerifier([{ username: model.user, key }]);
  const sockets = new Set<Socket>();
  const delays = new Set<NodeJS.Timeout>();

  const wait = (ms: number) =>
    new Promise<void>((done) => {
      const t = setTimeout(() => {
        delays.delete(t);
        done();
      }, ms);
      t.unref();
      delays.add(t);
    });

  async function handleMaas(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const f = faults.get();
    if (f.delayMs > 0) await wait(f.delayMs);
    const fault = faults.decide();
    if (fault.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault.kind === 'respond') return send(res, fault.status, fault.body, fault.headers);

    if (!url.pathname.startsWith(API_PREFIX)) {
      if (url.pathname === '/MAAS/' || url.pathname === '/MAAS')
        return send(res, 200, 'MAAS region simulator (ioplane fleet-sim). API at /MAAS/api/2.0/\n');
      throw new MaasError(404, 'Not Found');
    }
    const method = (req.method ?? 'GET').toUpperCase();
    const body = method === 'GET' || method === 'HEAD' ? Buffer.alloc(0) : await readBody(req);
    const parsed = parseBody(req.headers['content-type'], body);
    const query = Params.fromSearch(url.searchParams);
    const queryOp = query.get('op') || parsed.params.get('op') || undefined;
    let resolved: ReturnType<typeof resolve> | undefined;
    let routeError: unknown;
    try {
      resolved = resolve(ROUTES, url.pathname.slice(API_PREFIX.length), queryOp);
    } catch (e) {
      routeError = e;
    }
    const user = resolved?.route.anonymous ? 'anonymous' : auth.verify(req.headers.authorization).username;
    if (!resolved) throw routeError;
    const handler = pickHandler(resolved.route, method === 'HEAD' ? 'GET' : method, resolved.op);
    const result = await handler({
      method,
      op: resolved.op,
      query: query.without('op'),
      form: parsed.params.without('op'),
      files: parsed.files,
      user,
      store,
      lifecycle,
      args: resolved.args,
    });
    if (result instanceof Reply) return send(res, result.status, result.body);
    send(res, 200, result);
  }

  /** Operator controls: same OAuth as MAAS, never subject to the faults they set. */
  async function handleSim(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    auth.verify(req.headers.authorization);
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname.slice(SIM_PREFIX.length).replace(/\/$/, '');
    if (path === 'faults') {
      if (method === 'GET') return send(res, 200, faults.get());
      if (method === 'DELETE') {
        faults.clear();
        return send(res, 200, faults.get());
      }
      if (method === 'PUT' || method === 'POST') {
        const text = (await readBody(req)).toString('utf8');
        let input: unknown;
        try {
          input = JSON.parse(text || '{}');
        } catch {
          throw new MaasError(400, 'Body must be a JSON object of fault settings.');
        }
        if (typeof input !== 'object' || input === null || Array.isArray(input))
          throw new MaasError(400, 'Body must be a JSON object of fault settings.');
        try {
          faults.set(input as Record<string, number>);
        } catch (e) {
          if (e instanceof FaultSettingsError) throw new MaasError(400, { [e.field]: [e.message] });
          throw e;
        }
        return send(res, 200, faults.get());
      }
      throw new MaasError(405, 'Method Not Allowed', { Allow: 'GET, PUT, DELETE' });
    }
    if (path === 'traffic' || path.startsWith('traffic/')) {
      const reply = await handleTraffic(
        traffic,
        method,
        path
          .split('/')
          .slice(1)
          .map((x) => decodeURIComponent(x)),
        method === 'PUT' ? await readBody(req) : Buffer.alloc(0),
      );
      return send(res, reply.status, reply.body);
    }
    if (path === 'flush' && method === 'POST') {
      store.flushPending();
      return send(res, 200, { flushed: true });
    }
    throw new MaasError(404, 'Not Found');
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    const work = url.pathname.startsWith(SIM_PREFIX)
      ? handleSim(req, res, url)
      : url.pathname.startsWith('/MAAS')
        ? handleMaas(req, res, url)
        : Promise.reject(new MaasError(404, 'Not Found'));
    work.catch((e: unknown) => {
      if (e instanceof MaasError) return send(res, e.status, e.body, e.headers);
      send(res, 500, `Internal Server Error: ${(e as Error).message}`);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', fail);
      ok();
    });
  });
  const { port } = server.address() as AddressInfo;
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const closeMaas = () =>
    new Promise<void>((done) => {
      store.close();
      for (const t of delays) clearTimeout(t);
      delays.clear();
      server.close(() => done());
      for (const s of sockets) s.destroy();
    });

  if (opts.agents) {
    try {
      agents = await startSimAgents(store, opts.agents, { timeScale });
      const a = agents;
      if (a.hardware) traffic = new WireTraffic((systemId) => a.topology(systemId));
    } catch (e) {
      await closeMaas();
      throw e;
    }
  }

  const scenario = scenarioFile
    ? new ScenarioPlayer(scenarioFile, { store, agents: agents?.agents ?? new Map(), url: `${base}/MAAS/`, apiKey, traffic })
    : null;
  if (scenario && opts.scenario?.play !== false) scenario.play(opts.scenario?.speed ?? 1);

  let closing: Promise<void> | undefined;
  return {
    scenario,
    traffic,
    url: `${base}/MAAS/`,
    apiUrl: `${base}${API_PREFIX}`,
    apiKey,
    faults,
    store,
    model,
    lifecycle,
    agents: agents?.agents ?? new Map(),
    agentPort: agents?.port ?? 0,
    agentInstanceId: agents?.instanceId ?? null,
    agentFaultToken: agents?.faultToken ?? null,
    hardware: agents?.hardware ?? null,
    topology: (systemId: string) => agents?.topology(systemId) ?? null,
    close() {
      closing ??= (async () => {
        scenario?.close();
        await traffic?.close();
        try {
          await agents?.close();
        } finally {
          await closeMaas();
        }
      })();
      return closing;
    },
  };
}
