import type { Machine } from '@ioplane/domain';
import { z } from 'zod';
import { MaasValidationError } from './maas.errors';
import { toMachine } from './maas.mapper';
import {
  MaasVersion,
  MaasWhoami,
  RawEvent,
  RawInterface,
  RawMachine,
  RawPciDevice,
  RawPool,
  RawTag,
  RawZone,
  eventQueryResponseSchema,
  rawInterfaceSchema,
  rawMachineSchema,
  rawPciDeviceSchema,
  rawPoolSchema,
  rawTagSchema,
  rawZoneSchema,
  versionSchema,
  whoamiSchema,
} from './maas.schemas';
import { MaasClientOptions, MaasTransport, Params, RequestSpec } from './maas.transport';

type Multi = string | string[];

/** Server-side filters of `GET machines/`; repeated values are OR-ed, except `tags` (all must match). */
export interface MachineFilter {
  id?: Multi;
  hostname?: Multi;
  mac_address?: Multi;
  zone?: Multi;
  pool?: Multi;
  tags?: Multi;
  status?: Multi;
  simple_status?: Multi;
  owner?: Multi;
  power_state?: Multi;
  arch?: Multi;
  domain?: Multi;
  not_id?: Multi;
  not_tags?: Multi;
  not_in_zone?: Multi;
  not_in_pool?: Multi;
  not_status?: Multi;
  [filter: string]: Multi | undefined;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export type EventLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL';

export interface EventQuery {
  /** Exclusive lower bound on event id; MAAS does not allow it together with `before`. */
  after?: number;
  before?: number;
  /** At most 1000. */
  limit?: number;
  /** Minimum level; status changes are DEBUG. */
  level?: EventLevel;
  id?: Multi;
  hostname?: Multi;
  zone?: Multi;
  pool?: Multi;
}

export interface AllocateConstraints {
  system_id?: string;
  name?: string;
  arch?: Multi;
  cpu_count?: number;
  mem?: number;
  tags?: Multi;
  not_tags?: Multi;
  zone?: string;
  not_in_zone?: Multi;
  pool?: string;
  not_in_pool?: Multi;
  agent_name?: string;
  comment?: string;
  dry_run?: boolean;
  [constraint: string]: string | number | boolean | string[] | undefined;
}

export interface DeployOptions {
  distro_series?: string;
  /** base64-encoded cloud-init user data (MAAS expects it encoded). */
  user_data?: string;
  hwe_kernel?: string;
  comment?: string;
  [option: string]: string | number | boolean | undefined;
}

export interface ReleaseOptions {
  comment?: string;
  erase?: boolean;
  quick_erase?: boolean;
  secure_erase?: boolean;
  force?: boolean;
}

const machines = z.array(rawMachineSchema);
const seg = (s: string) => encodeURIComponent(s);

export class MaasClient {
  private readonly http: MaasTransport;

  /** @throws MaasConfigError for a malformed apiKey or url (the message never contains the key). */
  constructor(opts: MaasClientOptions) {
    this.http = new MaasTransport(opts);
  }

  /** The normalised API root, ending in `/api/2.0/`. */
  get apiRoot(): string {
    return this.http.baseUrl.toString();
  }

  /** For health checks: 'open' means calls currently fail fast with MaasUnavailableError. */
  get circuitState(): 'closed' | 'open' | 'half-open' | 'isolated' {
    return this.http.circuitState;
  }

  /** Frees pooled keep-alive sockets. */
  close(): void {
    this.http.close();
  }

  version(call?: CallOptions): Promise<MaasVersion> {
    return this.get('version/', versionSchema, { anonymous: true, signal: call?.signal });
  }

  whoami(call?: CallOptions): Promise<MaasWhoami> {
    return this.get('users/', whoamiSchema, { op: 'whoami', signal: call?.signal });
  }

  listMachines(filter: MachineFilter = {}, call?: CallOptions): Promise<RawMachine[]> {
    return this.get('machines/', machines, { query: filter as Params, signal: call?.signal });
  }

  getMachine(systemId: string, call?: CallOptions): Promise<RawMachine> {
    return this.get(`machines/${seg(systemId)}/`, rawMachineSchema, { signal: call?.signal });
  }

  machineInterfaces(systemId: string, call?: CallOptions): Promise<RawInterface[]> {
    return this.get(`nodes/${seg(systemId)}/interfaces/`, z.array(rawInterfaceSchema), { signal: call?.signal });
  }

  /** PCI/USB inventory (MAAS 3.0+). */
  machineDevices(systemId: string, call?: CallOptions): Promise<RawPciDevice[]> {
    return this.get(`nodes/${seg(systemId)}/devices/`, z.array(rawPciDeviceSchema), { signal: call?.signal });
  }

  /** A machine with its PCI inventory, mapped to the domain type. */
  async loadMachine(systemId: string, call?: CallOptions): Promise<Machine> {
    const [raw, pci] = await Promise.all([this.getMachine(systemId, call), this.machineDevices(systemId, call)]);
    return toMachine(raw, pci);
  }

  listTags(call?: CallOptions): Promise<RawTag[]> {
    return this.get('tags/', z.array(rawTagSchema), { signal: call?.signal });
  }

  tagMachines(tag: string, call?: CallOptions): Promise<RawMachine[]> {
    return this.get(`tags/${seg(tag)}/`, machines, { op: 'machines', signal: call?.signal });
  }

  listZones(call?: CallOptions): Promise<RawZone[]> {
    return this.get('zones/', z.array(rawZoneSchema), { signal: call?.signal });
  }

  listPools(call?: CallOptions): Promise<RawPool[]> {
    return this.get('resourcepools/', z.array(rawPoolSchema), { signal: call?.signal });
  }

  /** Events, newest first as MAAS returns them; MaasEventCursor puts them in order. */
  async queryEvents(q: EventQuery = {}, call?: CallOptions): Promise<{ count: number; events: RawEvent[] }> {
    const res = await this.get('events/', eventQueryResponseSchema, { op: 'query', query: q as Params, signal: call?.signal });
    return { count: res.count, events: res.events };
  }

  /**
   * Sets key=value pairs (an empty value deletes the key). Falls back to the older
   * `set_owner_data` op on MAAS versions that do not know `set_workload_annotations`.
   */
  async setWorkloadAnnotations(systemId: string, annotations: Record<string, string>, call?: CallOptions): Promise<RawMachine> {
    const spec = { path: `machines/${seg(systemId)}/`, form: annotations, idempotent: true, signal: call?.signal };
    try {
      return await this.post(spec.path, 'set_workload_annotations', spec);
    } catch (err) {
      const unknownOp = err instanceof MaasValidationError && /Unrecognised signature/i.test(err.message);
      if (!unknownOp) throw err;
      return this.post(spec.path, 'set_owner_data', spec);
    }
  }

  /** @throws MaasConflictError (409) when no machine matches the constraints. */
  allocate(constraints: AllocateConstraints = {}, call?: CallOptions): Promise<RawMachine> {
    return this.post('machines/', 'allocate', { form: constraints as Params, signal: call?.signal });
  }

  deploy(systemId: string, opts: DeployOptions = {}, call?: CallOptions): Promise<RawMachine> {
    return this.post(`machines/${seg(systemId)}/`, 'deploy', { form: opts as Params, signal: call?.signal });
  }

  /** Releasing a machine that is already Ready is a no-op in MAAS, so this is safe to repeat. */
  release(systemId: string, opts: ReleaseOptions = {}, call?: CallOptions): Promise<RawMachine> {
    return this.post(`machines/${seg(systemId)}/`, 'release', {
      form: opts as Params,
      idempotent: true,
      signal: call?.signal,
    });
  }

  lock(systemId: string, opts: { comment?: string } = {}, call?: CallOptions): Promise<RawMachine> {
    return this.post(`machines/${seg(systemId)}/`, 'lock', { form: opts, signal: call?.signal });
  }

  unlock(systemId: string, opts: { comment?: string } = {}, call?: CallOptions): Promise<RawMachine> {
    return this.post(`machines/${seg(systemId)}/`, 'unlock', { form: opts, signal: call?.signal });
  }

  private get<S extends z.ZodType>(path: string, schema: S, rest: Partial<RequestSpec> = {}): Promise<z.output<S>> {
    return this.http.request({ ...rest, method: 'GET', path }, schema);
  }

  private post(path: string, op: string, rest: Partial<RequestSpec>): Promise<RawMachine> {
    return this.http.request({ ...rest, method: 'POST', path, op }, rawMachineSchema);
  }
}
