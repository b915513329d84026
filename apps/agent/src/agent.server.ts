import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Device, FirmwareProfile } from '@ioplane/domain';
import { createLogger, registerSecret } from '@ioplane/runtime';
import {
  faultsBodySchema,
  probeBodySchema,
  flashBodySchema,
  loadBodySchema,
  portBodySchema,
  rollbackBodySchema,
  sha256Hex,
  vectorsBodySchema,
  verifyArtifact,
  type AgentInventory,
} from '@ioplane/agent-api';
import {
  DeviceError,
  hostInterfaces,
  requireInterface,
  type HostInterface,
  type HostPorts,
  FaultBook,
  type DeviceDriver,
  type FlashResult,
} from '@ioplane/devices';
import { createDrivers } from './agent.drivers';
import { bearerMatches, decodePath, HttpError, parseBody, readJson, send, toHttpError } from './agent.http';

/** What the agent needs of its machine: a FleetMachine, or just its id and devices. */
export interface AgentMachine {
  systemId: string;
  hostname?: string;
  devices: Device[];
}

export interface AgentOptions {
  id: string;
  host: string;
  port: number;
  token: string;
  machine: AgentMachine;
  profiles: FirmwareProfile[];
  publicKeyPem: string;
  /** Multiplies every device time (flash write, activation). Default 1. */
  timeScale?: number;
  kernel?: 'auto' | 'off';
  stateDir?: string;
  logger?: Logger;
  logLevel?: string;
  /**
   * Set only by the simulator that embeds this agent: turns on `PUT /v1/faults`, which answers
   * to this credential alone (never the agent token). The production entry point has no way to
   * set it, so a real host's agent has no fault endpoint at all.
   */
  simulator?: { faultToken: string };
  /**
   * The host's interfaces, which the agent acts on by their MAAS names: those of the namespace it
   * runs in (`netns: null`, a real host; the production entry point always sets this) or of a
   * named one (an emulated machine's host namespace). `wire` is the simulator's probe sender.
   * Absent: each port is a scratch veth pair the kernel driver creates (kernel tests).
   */
  interfaces?: HostPorts;
}

export interface RunningAgent {
  url: string;
  mode: 'kernel' | 'emulated';
  faults: FaultBook;
  drivers: Map<string, DeviceDriver>;
  close(): Promise<void>;
}

const DEVICE_OP = /^\/v1\/devices\/(.+)\/(load|detach|flash|rollback|commit|run-vectors|counters|probe)$/;

/** A start-up option the agent cannot run with; `field` names it. */
export class AgentOptionError extends Error {
  override readonly name = 'AgentOptionError';
  readonly code = 'invalid_option';
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

/** Long enough that guessing it is out of reach, like the agent token. */
const MIN_FAULT_TOKEN = 32;

export async function startAgent(opts: AgentOptions): Promise<RunningAgent> {
  registerSecret(opts.token);
  const faultToken = opts.simulator?.faultToken;
  if (faultToken !== undefined) {
    if (faultToken.length < MIN_FAULT_TOKEN)
      throw new AgentOptionError(`simulator.faultToken must be at least ${MIN_FAULT_TOKEN} characters`, 'simulator.faultToken');
    if (faultToken === opts.token)
      throw new AgentOptionError('simulator.faultToken must differ from the agent token', 'simulator.faultToken');
    registerSecret(faultToken);
  }
  const log = opts.logger ?? createLogger({ name: 'agent', level: opts.logLevel ?? process.env.LOG_LEVEL ?? 'info' });
  const faults = new FaultBook();
  const stateDir = opts.stateDir ?? join(tmpdir(), 'ioplane-agent', opts.id.replace(/[^A-Za-z0-9_-]/g, '_'));
  const set = await createDrivers({
    agentId: opts.id,
    devices: opts.machine.devices,
    profiles: opts.profiles,
    faults,
    timeScale: opts.timeScale ?? 1,
    kernel: opts.kernel ?? 'auto',
    stateDir,
    host: opts.interfaces,
  });
  // What the host has, read once at start (a load still checks the live netdev before attaching).
  let hostIfaces: HostInterface[] | null = null;
  let hostIfacesReason: string | null = null;
  if (opts.interfaces) {
    try {
      hostIfaces = await hostInterfaces(opts.interfaces.netns);
    } catch (e) {
      hostIfacesReason = (e as Error).message;
    }
  }
  const inflight = new Set<AbortController>();
  // A flash belongs to the device, not to the request: it runs to its end (or clean fallback)
  // even when the controller dies, and only the agent shutting down stops it.
  const life = new AbortController();
  /** Flashes being written, by device: a repeated request for the same image joins instead of writing again. */
  const flashing = new Map<string, { key: string; result: Promise<FlashResult> }>();

  const driverFor = (raw: string): DeviceDriver => {
    const id = decodePath(raw, 'deviceId');
    const d = set.drivers.get(id) ?? [...set.drivers.values()].find((x) => x.device.name === id);
    if (d) return d;
    const u = set.unmanaged.get(id) ?? [...set.unmanaged.values()].find((x) => x.device.name === id);
    if (u) throw new HttpError(422, 'unprofiled', `${u.device.id}: ${u.reason}`, 'deviceId');
    throw new HttpError(404, 'not_found', `no device ${id} on ${opts.machine.systemId}`, 'deviceId');
  };

  /** Refuses anything whose bytes do not hash to its digest or whose signature does not verify. */
  const checkSigned = (what: string, field: string, digest: string, signature: string, bytes?: Buffer): void => {
    if (bytes && sha256Hex(bytes) !== digest) {
      log.warn({ artifact: what, digest }, 'artifact refused: bytes do not match digest');
      throw new DeviceError('digest_mismatch', `${what}: the bytes do not hash to the digest`, `${field}.digest`);
    }
    if (!verifyArtifact(digest, signature, opts.publicKeyPem)) {
      log.warn({ artifact: what, digest }, 'artifact refused: bad signature');
      throw new DeviceError('bad_signature', `${what}: signature does not verify with the agent's public key`, `${field}.signature`);
    }
  };

  const inventory = (): AgentInventory => ({
    agentId: opts.id,
    hostname: opts.machine.hostname ?? opts.machine.systemId,
    mode: set.mode,
    modeReason: set.modeReason,
    ...(opts.interfaces ? { interfaces: hostIfaces, interfacesReason: hostIfacesReason } : {}),
    devices: [
      ...[...set.drivers.values()].map((d) => d.inventory()),
      ...[...set.unmanaged.values()].map((u) => ({ device: u.device, driver: null, reason: u.reason })),
    ],
  });

  const route = async (req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://agent');
    const path = url.pathname;
    decodePath(path);
    if (req.method === 'GET' && path === '/healthz') return send(res, 200, { ok: true, agentId: opts.id, mode: set.mode });
    if (faultToken !== undefined && path === '/v1/faults') {
      if (bearerMatches(req.headers.authorization, opts.token))
        throw new HttpError(403, 'forbidden', "fault injection needs the simulator's fault token, not the agent token", 'Authorization');
      if (!bearerMatches(req.headers.authorization, faultToken))
        throw new HttpError(401, 'unauthorized', 'missing or wrong fault token', 'Authorization');
      if (req.method !== 'PUT') throw new HttpError(405, 'method_not_allowed', 'use PUT');
      const body = parseBody(faultsBodySchema, await readJson(req));
      for (const [id, f] of Object.entries(body.devices)) faults.set(driverFor(id).device.id, f);
      log.info({ faults: faults.all() }, 'faults set');
      return send(res, 200, { devices: faults.all() });
    }
    if (!bearerMatches(req.headers.authorization, opts.token)) throw new HttpError(401, 'unauthorized', 'missing or wrong bearer token');
    // The authenticated liveness check: proves the caller holds this host's token (install checks, the controller).
    if (req.method === 'GET' && path === '/v1/health')
      return send(res, 200, { ok: true, agentId: opts.id, mode: set.mode, devices: set.drivers.size });
    if (req.method === 'GET' && path === '/v1/inventory') return send(res, 200, inventory());
    if (req.method === 'GET' && path === '/v1/programs')
      return send(res, 200, { devices: await Promise.all([...set.drivers.values()].map((d) => d.programs())) });
    const m = DEVICE_OP.exec(path);
    if (!m) throw new HttpError(404, 'not_found', `no route ${req.method} ${path}`);
    const driver = driverFor(m[1]);
    const op = m[2];
    if (op === 'counters') {
      if (req.method !== 'GET') throw new HttpError(405, 'method_not_allowed', 'use GET');
      return send(res, 200, await driver.counters());
    }
    if (req.method !== 'POST') throw new HttpError(405, 'method_not_allowed', 'use POST');
    const raw = await readJson(req);
    switch (op) {
      case 'load': {
        const body = parseBody(loadBodySchema, raw);
        // A plan naming a netdev this host does not have is refused before any bytes are looked at.
        if (hostIfaces && body.interface !== undefined)
          requireInterface(body.interface, hostIfaces, opts.machine.hostname ?? opts.machine.systemId);
        const modules = body.modules.map((mod, i) => {
          const object = Buffer.from(mod.object, 'base64');
          checkSigned(`module ${mod.name}@${mod.version}`, `modules.${i}`, mod.digest, mod.signature, object);
          return {
            name: mod.name,
            version: mod.version,
            digest: mod.digest,
            program: mod.program,
            persistentMaps: mod.persistentMaps,
            object,
            pps: mod.pps,
            matchAction: mod.matchAction,
          };
        });
        const r = await driver.load({ port: body.port, target: body.target, hook: body.hook, interface: body.interface, modules, signal });
        log.info(
          {
            device: driver.device.id,
            port: body.port,
            status: r.status,
            chain: r.current.chainDigest.slice(0, 12),
            modules: modules.map((x) => `${x.name}@${x.version}`),
          },
          'load',
        );
        return send(res, 200, r);
      }
      case 'detach': {
        const body = parseBody(portBodySchema, raw);
        return send(res, 200, await driver.detach(body.port));
      }
      case 'commit': {
        const body = parseBody(portBodySchema, raw);
        return send(res, 200, await driver.commit(body.port));
      }
      case 'probe': {
        const body = parseBody(probeBodySchema, raw);
        return send(res, 200, await driver.probe(body.port, body.packets));
      }
      case 'rollback': {
        const body = parseBody(rollbackBodySchema, raw);
        const r = await driver.rollback({ ...body, signal });
        log.info({ device: driver.device.id, scope: body.scope, port: body.port }, 'rollback');
        return send(res, 200, r);
      }
      case 'flash': {
        const body = parseBody(flashBodySchema, raw);
        // A flash writes an image into a slot: without its bytes there is nothing to write or read back.
        if (!body.image.bytes)
          throw new DeviceError(
            'missing_image',
            `firmware ${body.image.profileId}@${body.image.version}: the request carries no image bytes`,
            'image.bytes',
          );
        const bytes = Buffer.from(body.image.bytes, 'base64');
        checkSigned(`firmware ${body.image.profileId}@${body.image.version}`, 'image', body.image.digest, body.image.signature, bytes);
        const deviceId = driver.device.id;
        const key = `${body.image.digest}|${body.activate !== false}`;
        const running = flashing.get(deviceId);
        if (running?.key === key) {
          log.info({ device: deviceId, digest: body.image.digest }, 'flash of this image already running: waiting for its outcome');
          return send(res, 200, await running.result);
        }
        const result = driver.flash(
          { profileId: body.image.profileId, version: body.image.version, digest: body.image.digest, bytes },
          { activate: body.activate, signal: life.signal },
        );
        const entry = { key, result };
        flashing.set(deviceId, entry);
        try {
          const r = await result;
          log.info({ device: deviceId, status: r.status, slot: r.slot, reason: r.reason }, 'flash');
          return send(res, 200, r);
        } finally {
          if (flashing.get(deviceId) === entry) flashing.delete(deviceId);
        }
      }
      case 'run-vectors': {
        const body = parseBody(vectorsBodySchema, raw);
        const results = await driver.runVectors(
          body.port,
          body.vectors.map((v) => ({
            module: v.module,
            name: v.name,
            packet: Buffer.from(v.packetHex, 'hex'),
            expectVerdict: v.expectVerdict,
            expectOutput: v.expectOutputHex ? Buffer.from(v.expectOutputHex, 'hex') : undefined,
            repeat: v.repeat,
          })),
        );
        return send(res, 200, { deviceId: driver.device.id, passed: results.every((r) => r.passed), results });
      }
    }
  };

  const server = createServer((req, res) => {
    const ac = new AbortController();
    inflight.add(ac);
    // A client that goes away cancels what it asked for (a load or rollback stops between steps);
    // a flash does not listen to this: half-written firmware helps nobody.
    res.on('close', () => {
      if (!res.writableFinished) ac.abort();
      inflight.delete(ac);
    });
    route(req, res, ac.signal).catch((e) => {
      const h = toHttpError(e);
      if (h.status >= 500) log.error({ err: e, path: req.url }, 'request failed');
      if (!res.headersSent) send(res, h.status, { error: { code: h.code, message: h.message, field: h.field, details: h.details } });
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}`;
  log.info({ url, agentId: opts.id, mode: set.mode, modeReason: set.modeReason, devices: set.drivers.size }, 'agent listening');

  return {
    url,
    mode: set.mode,
    faults,
    drivers: set.drivers,
    async close() {
      life.abort();
      for (const ac of inflight) ac.abort();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      for (const d of set.drivers.values()) await d.close();
    },
  };
}
