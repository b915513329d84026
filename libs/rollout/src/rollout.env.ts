import type { DesiredMachine } from './machine.desired';
import type { AgentPort, Control, FirmwareImage } from './machine.runbook';
import type { MachineRecord } from './machine.state';
import type { StoreRetryOptions } from './store.retry';

/** The durable state a rollout reads and writes; Redis in production (`RolloutRepository`). */
export interface RolloutStore {
  initMachines(placementId: string, records: MachineRecord[]): Promise<void>;
  machines<T>(placementId: string): Promise<T[]>;
  machine<T>(placementId: string, systemId: string): Promise<T | null>;
  /** With a fence, refused (null) unless the writer still holds the machine's lease under it. */
  saveMachine<T extends { systemId: string; generation: number }>(placementId: string, rec: T, fence?: MachineFence): Promise<T | null>;
  putRolloutPlan(placementId: string, plan: unknown): Promise<void>;
  getRolloutPlan<T>(placementId: string): Promise<T | null>;
  control(placementId: string): Promise<Control>;
}

/** A machine's lease as its holder shows it: the owning placement and the generation it acquired. */
export interface MachineFence {
  systemId: string;
  owner: string;
  gen: number;
}

/** Everything the orchestrator needs from outside: agents, signatures, artifacts, status, commit hooks. */
export interface RolloutEnv {
  store: RolloutStore;
  agentFor(systemId: string): Promise<AgentPort>;
  sign(digest: string): string;
  firmwareImage(profileId: string): FirmwareImage;
  /** The machine's desired state under this placement. */
  desired(placementId: string, systemId: string): Promise<DesiredMachine>;
  /** Called once per machine when its wave commits: record observed state, annotate MAAS. */
  onCommitted(placementId: string, rec: MachineRecord, want: DesiredMachine): Promise<void>;
  /**
   * Machine leases (Redis in production): a wave's commit, rollback and cancel of a machine hold
   * its lease and write under its fence, as its machine job did. Without them writes are unfenced.
   */
  leases?: {
    acquire(placementId: string, systemId: string, holder: string): Promise<MachineFence>;
    letGo(fence: MachineFence): Promise<void>;
  };
  probeMs?: number;
  /** Gives MAAS the annotations of commits it missed (it was down); returns how many it took. */
  annotateMissing?(): Promise<number>;
  /** How long a failing state write or read is retried before the job fails (BullMQ runs it again). */
  storeRetry?: StoreRetryOptions;
  log?(msg: string, fields: Record<string, unknown>): void;
}
