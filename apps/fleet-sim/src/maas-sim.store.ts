import type { FleetModel, ModelMachine, ModelPool, ModelTag, ModelZone } from './fleet-model';
import { EventLog, type LevelName } from './maas-sim.events';
import { badRequest, notFound } from './maas-sim.errors';
import { STATUS, statusLabel } from './maas-sim.status';

export type PowerState = 'on' | 'off' | 'unknown' | 'error';

interface PendingStep {
  run: () => void;
  timer: NodeJS.Timeout;
}

/** One machine's mutable MAAS state; its hardware stays in `model`. */
export interface SimMachine {
  readonly model: ModelMachine;
  readonly systemId: string;
  hostname: string;
  description: string;
  zone: string;
  pool: string;
  tags: Set<string>;
  status: number;
  /** Where abort / mark_fixed / exit_rescue_mode return to. */
  previousStatus: number;
  owner: string | null;
  annotations: Record<string, string>;
  locked: boolean;
  powerState: PowerState;
  osystem: string;
  distroSeries: string;
  statusMessage: string;
  errorDescription: string;
  /** cloud-init user data from the last deploy, decoded; how an agent gets installed. */
  userData: string | null;
  lastScripts: string[];
  pending: PendingStep[];
}

export interface StoreOptions {
  timeScale: number;
  now?: () => Date;
}

const DEFAULT_ZONE: ModelZone = { id: 0, name: 'default', description: '' };
const DEFAULT_POOL: ModelPool = { id: 0, name: 'default', description: 'Default pool' };

/**
 * Everything the simulated region holds. Transitions run on timers scaled by
 * timeScale; `flushPending()` completes them at once for tests that need no waiting.
 */
export class MaasSimStore {
  readonly events: EventLog;
  readonly zones = new Map<string, ModelZone>();
  readonly pools = new Map<string, ModelPool>();
  readonly tags = new Map<string, ModelTag>();
  private readonly machines = new Map<string, SimMachine>();
  private sorted: SimMachine[] = [];
  private closed = false;
  readonly timeScale: number;
  readonly now: () => Date;

  constructor(
    readonly model: FleetModel,
    opts: StoreOptions,
  ) {
    this.timeScale = opts.timeScale;
    this.now = opts.now ?? (() => new Date());
    this.events = new EventLog(this.now);
    // Real MAAS always has a `default` zone and pool; clients must cope with them.
    for (const z of [DEFAULT_ZONE, ...model.zones]) this.zones.set(z.name, z);
    for (const p of [DEFAULT_POOL, ...model.pools]) this.pools.set(p.name, p);
    for (const t of model.tags) this.tags.set(t.name, { ...t });
    for (const mm of model.machines) {
      const m: SimMachine = {
        model: mm,
        systemId: mm.systemId,
        hostname: mm.hostname,
        description: mm.description,
        zone: mm.zone,
        pool: mm.pool,
        tags: new Set(mm.tags),
        status: mm.status,
        previousStatus: mm.status,
        owner: mm.owner,
        annotations: {},
        locked: false,
        powerState: isPoweredStatus(mm.status) ? 'on' : 'off',
        osystem: isPoweredStatus(mm.status) ? 'ubuntu' : '',
        distroSeries: isPoweredStatus(mm.status) ? mm.distroSeries : '',
        statusMessage: statusLabel(mm.status),
        errorDescription: '',
        userData: null,
        lastScripts: [],
        pending: [],
      };
      this.machines.set(m.systemId, m);
    }
    this.sorted = [...this.machines.values()].sort((a, b) => (a.systemId < b.systemId ? -1 : a.systemId > b.systemId ? 1 : 0));
    this.seedHistory();
  }

  /** Machines sorted by system_id, as `GET machines/` answers. */
  list(): readonly SimMachine[] {
    return this.sorted;
  }

  machineCount(): number {
    return this.sorted.length;
  }

  find(systemId: string): SimMachine | undefined {
    return this.machines.get(systemId);
  }

  /** `kind` is the word MAAS puts in its 404 text: `No Machine matches the given query.` */
  get(systemId: string, kind: 'Machine' | 'Node' = 'Machine'): SimMachine {
    const m = this.machines.get(systemId);
    if (!m) throw notFound(`No ${kind} matches the given query.`);
    return m;
  }

  getTag(name: string): ModelTag {
    const t = this.tags.get(name);
    if (!t) throw notFound('No Tag matches the given query.');
    return t;
  }

  /** Throws MAAS's 400 for names that do not exist, e.g. `{"tags": ["No such tag(s): 'foo'."]}`. */
  requireTags(names: string[], field = 'tags'): void {
    const missing = names.filter((n) => !this.tags.has(n));
    if (missing.length) throw badRequest({ [field]: [`No such tag(s): ${missing.map((n) => `'${n}'`).join(', ')}.`] });
  }

  requireZones(names: string[], field = 'zone'): void {
    const missing = names.filter((n) => !this.zones.has(n));
    if (missing.length) throw badRequest({ [field]: [`No such zone(s): ${missing.join(', ')}.`] });
  }

  requirePools(names: string[], field = 'pool'): void {
    const missing = names.filter((n) => !this.pools.has(n));
    if (missing.length) throw badRequest({ [field]: [`No such pool(s): ${missing.join(', ')}.`] });
  }

  record(m: SimMachine, level: LevelName, type: string, description: string, username?: string): void {
    this.events.add({
      systemId: m.systemId,
      hostname: m.hostname,
      zone: m.zone,
      pool: m.pool,
      username: username ?? m.owner ?? 'unknown',
      level,
      type,
      description,
    });
    if (level === 'INFO' || level === 'ERROR') m.statusMessage = type;
  }

  /** Every change writes the DEBUG event a watcher polls for. */
  setStatus(m: SimMachine, to: number, username?: string): void {
    if (m.status === to) return;
    const from = m.status;
    m.status = to;
    this.record(m, 'DEBUG', 'Node changed status', `From '${statusLabel(from)}' to '${statusLabel(to)}'`, username);
  }

  /** Runs `steps` at fractions of `seconds` (scaled); replaces whatever the machine had pending. */
  schedule(m: SimMachine, seconds: number, steps: Array<[number, () => void]>): void {
    this.cancel(m);
    if (this.closed) return;
    for (const [fraction, run] of steps) {
      const step: PendingStep = {
        run,
        timer: setTimeout(
          () => {
            m.pending = m.pending.filter((s) => s !== step);
            run();
          },
          Math.max(0, Math.round(seconds * 1000 * fraction * this.timeScale)),
        ),
      };
      step.timer.unref();
      m.pending.push(step);
    }
  }

  cancel(m: SimMachine): void {
    for (const s of m.pending) clearTimeout(s.timer);
    m.pending = [];
  }

  hasPending(m: SimMachine): boolean {
    return m.pending.length > 0;
  }

  /** Completes every scheduled transition now, in order. */
  flushPending(): void {
    for (let guard = 0; guard < 100; guard++) {
      const busy = this.sorted.filter((m) => m.pending.length > 0);
      if (!busy.length) return;
      for (const m of busy) {
        const steps = m.pending;
        m.pending = [];
        for (const s of steps) {
          clearTimeout(s.timer);
          s.run();
        }
      }
    }
  }

  close(): void {
    this.closed = true;
    for (const m of this.sorted) this.cancel(m);
  }

  /** A little past, so the log is not empty and a watcher has a cursor to start from. */
  private seedHistory(): void {
    const base = this.now().getTime() - 3600_000;
    this.sorted.forEach((m, i) => {
      const at = new Date(base + i * 1000);
      const before =
        m.status === STATUS.DEPLOYED
          ? STATUS.DEPLOYING
          : m.status === STATUS.ALLOCATED
            ? STATUS.READY
            : m.status === STATUS.READY
              ? STATUS.TESTING
              : null;
      if (before === null) return;
      const add = (level: LevelName, type: string, description: string) =>
        this.events.add({
          systemId: m.systemId,
          hostname: m.hostname,
          zone: m.zone,
          pool: m.pool,
          username: m.owner ?? 'unknown',
          level,
          type,
          description,
          created: at,
        });
      add('DEBUG', 'Node changed status', `From '${statusLabel(before)}' to '${statusLabel(m.status)}'`);
      if (m.status === STATUS.DEPLOYED) add('INFO', 'Deployed', '');
      if (m.status === STATUS.READY) add('INFO', 'Ready', '');
    });
  }
}

export function isPoweredStatus(status: number): boolean {
  return status === STATUS.DEPLOYED || status === STATUS.DEPLOYING || status === STATUS.FAILED_DEPLOYMENT;
}
