import type { FirmwareProfile } from '@ioplane/domain';
import type { FlashBody } from './agent.schemas';

/**
 * How long each kind of agent call may take before the caller gives up on it. An agent that
 * accepts the connection and never answers fails the call at its deadline, not at some
 * transport default.
 */
export interface AgentDeadlines {
  /** Reads (GET): inventory, programs, counters, health. Retried, each attempt bounded by this. */
  readMs: number;
  /** Program changes and checks: load, detach, commit, program rollback, test vectors, probe. */
  changeMs: number;
  /** One flash: from the target profile's write and activation times. */
  flashMs(body: FlashBody): number;
  /** A rollback that may re-activate the previous firmware slot: as long as the slowest activation. */
  firmwareRollbackMs: number;
  /** Attempts of an idempotent call (GET) on a transport error, a timeout or a 5xx; 1 disables retries. */
  readAttempts: number;
  /** First backoff between attempts; doubles each time. */
  retryDelayMs: number;
}

export const DEFAULT_AGENT_DEADLINES: AgentDeadlines = {
  readMs: 10_000,
  changeMs: 60_000,
  flashMs: () => 15 * 60_000,
  firmwareRollbackMs: 15 * 60_000,
  readAttempts: 3,
  retryDelayMs: 200,
};

/** Real devices run slower than their estimates: twice the profile's time plus a fixed margin for transfer and the agent. */
const FLASH_FACTOR = 2;
const FLASH_MARGIN_MS = 30_000;

/** Deadlines from the firmware profiles' flash timings: a flash gets minutes, a load seconds. */
export function agentDeadlinesFromProfiles(profiles: readonly FirmwareProfile[], base: Partial<AgentDeadlines> = {}): AgentDeadlines {
  const flashOf = (p: FirmwareProfile) => (p.flash.writeSeconds + p.flash.activateSeconds) * 1000 * FLASH_FACTOR + FLASH_MARGIN_MS;
  const slowest = Math.max(FLASH_MARGIN_MS, ...profiles.map(flashOf));
  const byId = new Map(profiles.map((p) => [p.id, flashOf(p)]));
  return {
    ...DEFAULT_AGENT_DEADLINES,
    // A profile the controller does not know gets the slowest known flash rather than no bound.
    flashMs: (body) => byId.get(body.image.profileId) ?? slowest,
    firmwareRollbackMs: profiles.length
      ? Math.max(FLASH_MARGIN_MS, ...profiles.map((p) => p.flash.activateSeconds * 1000 * FLASH_FACTOR + FLASH_MARGIN_MS))
      : DEFAULT_AGENT_DEADLINES.firmwareRollbackMs,
    ...base,
  };
}
