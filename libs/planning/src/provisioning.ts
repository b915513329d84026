import type { FleetMachine } from '@ioplane/domain';
import { matchesSelector } from '@ioplane/placement';
import type { PlacementRecord } from '@ioplane/state';
import { PlacementRequest, placementRequestSchema } from './placement-request.schema';

const DESIRED: ReadonlySet<string> = new Set(['completed', 'rolling-out', 'planned']);

/**
 * The placement a newly Deployed machine should follow: the newest operator or rebalance
 * placement that is (or is being) rolled out and whose selector takes the machine. Provisioning
 * placements of single machines never count as desired state themselves.
 */
export function desiredPlacementFor(machine: FleetMachine, placements: PlacementRecord[]): PlacementRecord | null {
  const candidates = placements
    .filter((p) => DESIRED.has(p.status) && p.reason !== 'provisioning')
    .filter((p) => {
      const req = placementRequestSchema.safeParse(p.request);
      return req.success && matchesSelector({ zone: machine.zone, pool: machine.pool, hostname: machine.hostname, tags: machine.tags } as never, req.data.selector);
    })
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  return candidates[0] ?? null;
}

/** The same modules and policy, for this one machine. */
export function provisioningRequest(desired: PlacementRecord, machine: FleetMachine): PlacementRequest {
  const req = placementRequestSchema.parse(desired.request);
  return { ...req, selector: { hostnames: [machine.hostname] }, dryRun: false, reason: 'provisioning' };
}

export { agentUserData, AGENT_ENV_PATH, CONTROLLER_KEY_PATH, type AgentPackageSource, type AgentUserDataInput } from './agent.user-data';
