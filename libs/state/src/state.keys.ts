/**
 * Every Redis key ioplane owns, in one place. All live under `{<prefix>}:state:` (`<p>` below) so
 * a shared Redis can host several installations (and tests) side by side, and a Redis Cluster
 * keeps each installation's keys in one slot.
 *
 * | key | type | holds |
 * |---|---|---|
 * | `<p>:fleet:machines` | hash | systemId -> FleetMachine JSON |
 * | `<p>:fleet:meta` | hash | generation, syncedAt, machines, devices, unprofiled |
 * | `<p>:maas:events:cursor` | string | id of the last MAAS event processed |
 * | `<p>:modules` | hash | module name -> uploaded ModuleRecord JSON |
 * | `<p>:modules:reports` | hash | artifact digest + profile set -> ModuleReport JSON |
 * | `<p>:modules:versions` | hash | `name@version` -> ModuleVersion JSON (immutable: set once, HSETNX) |
 * | `<p>:placements` | zset | placement ids by creation time |
 * | `<p>:placement:<id>` | string | PlacementRecord JSON (request, status) |
 * | `<p>:placement:<id>:plan` | string | the solver's plan with a reason per decision |
 * | `<p>:idempotency:<key>` | string | placement id for an Idempotency-Key (24 h) |
 * | `<p>:rollout:<id>:plan` | string | waves of a placement's rollout |
 * | `<p>:rollout:<id>:machines` | hash | systemId -> MachineRecord JSON (generation CAS) |
 * | `<p>:rollout:<id>:slices` | hash | systemId -> MachineSlice JSON: the machine's part of the plan, written at rollout start |
 * | `<p>:artifact:<sha256>` | string | a planned module's object bytes, addressed by their sha256 |
 * | `<p>:artifact:<sha256>:holders` | set | placements that planned with these bytes; the reconciler frees bytes whose holders all ended |
 * | `<p>:artifacts` | set | every stored artifact's digest, for that sweep |
 * | `<p>:rollout:<id>:inflight` | zset | machines in flight (lease expiry): maxUnavailable |
 * | `<p>:rollout:<id>:control` | string | run, pause, cancel or rollback |
 * | `<p>:lock:machine:<systemId>` | string | the worker holding a machine (token, PX lease) |
 * | `<p>:lease:machine:<systemId>` | string | MachineLease JSON: the placement owning the machine, the fencing generation, the job holding it and until when |
 * | `<p>:observed` | hash | systemId -> ObservedPlacement JSON: what each machine runs |
 * | `<p>:tokens` | hash | token id -> {name, role, sha256 of the secret, revokedAt} |
 * | `<p>:audit` | list | mutating API calls that passed authentication, newest first, capped at 10,000 |
 * | `<p>:audit:refused` | list | mutating calls refused for authentication (401/403), newest first, capped at 1,000 |
 */
export class StateKeys {
  /**
   * `{<prefix>}:state`: the hash tag puts every state key in one Redis Cluster slot, with the
   * queues (BullMQ's prefix is `{<prefix>}` too), so multi-key scripts never meet CROSSSLOT;
   * `:state` keeps them apart from the queues' own keys.
   */
  readonly base: string;
  constructor(readonly prefix: string) {
    this.base = `{${prefix}}:state`;
  }
  /** A KEYS/SCAN pattern matching every state key of this installation (tests, tools). */
  get pattern(): string {
    return `${this.base}:*`;
  }
  get fleetMachines(): string {
    return `${this.base}:fleet:machines`;
  }
  get fleetMeta(): string {
    return `${this.base}:fleet:meta`;
  }
  get maasEventCursor(): string {
    return `${this.base}:maas:events:cursor`;
  }
  get modules(): string {
    return `${this.base}:modules`;
  }
  get moduleReports(): string {
    return `${this.base}:modules:reports`;
  }
  get moduleVersions(): string {
    return `${this.base}:modules:versions`;
  }
  get placements(): string {
    return `${this.base}:placements`;
  }
  placement(id: string): string {
    return `${this.base}:placement:${id}`;
  }
  placementPlan(id: string): string {
    return `${this.base}:placement:${id}:plan`;
  }
  idempotency(key: string): string {
    return `${this.base}:idempotency:${key}`;
  }
  rolloutPlan(id: string): string {
    return `${this.base}:rollout:${id}:plan`;
  }
  rolloutSlices(id: string): string {
    return `${this.base}:rollout:${id}:slices`;
  }
  artifact(digest: string): string {
    return `${this.base}:artifact:${digest}`;
  }
  artifactHolders(digest: string): string {
    return `${this.base}:artifact:${digest}:holders`;
  }
  get artifacts(): string {
    return `${this.base}:artifacts`;
  }
  rolloutMachines(id: string): string {
    return `${this.base}:rollout:${id}:machines`;
  }
  rolloutInflight(id: string): string {
    return `${this.base}:rollout:${id}:inflight`;
  }
  rolloutControl(id: string): string {
    return `${this.base}:rollout:${id}:control`;
  }
  machineLock(systemId: string): string {
    return `${this.base}:lock:machine:${systemId}`;
  }
  machineLease(systemId: string): string {
    return `${this.base}:lease:machine:${systemId}`;
  }
  get observed(): string {
    return `${this.base}:observed`;
  }
  get telemetryWindow(): string {
    return `${this.base}:telemetry:window`;
  }
  get telemetryMachines(): string {
    return `${this.base}:telemetry:machines`;
  }
  telemetryWindows(systemId: string): string {
    return `${this.base}:telemetry:${systemId}:windows`;
  }
  telemetryLast(systemId: string): string {
    return `${this.base}:telemetry:${systemId}:last`;
  }
  get rebalancePolicy(): string {
    return `${this.base}:rebalance:policy`;
  }
  get rebalanceState(): string {
    return `${this.base}:rebalance:state`;
  }
  get rebalanceProposals(): string {
    return `${this.base}:rebalance:proposals`;
  }
  get rebalanceProposalIndex(): string {
    return `${this.base}:rebalance:proposals:index`;
  }
  get tokens(): string {
    return `${this.base}:tokens`;
  }
  get audit(): string {
    return `${this.base}:audit`;
  }
  get auditRefused(): string {
    return `${this.base}:audit:refused`;
  }
}
