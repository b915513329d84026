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
      return (
        req.success &&
        matchesSelector(
          { zone: machine.zone, pool: machine.pool, hostname: machine.hostname, tags: machine.tags } as never,
          req.data.selector,
        )
      );
    })
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  return candidates[0] ?? null;
}

/** MAAS statuses from which ioplane may deploy a machine: Ready, Allocated, Failed deployment. */
const DEPLOYABLE: ReadonlySet<number> = new Set([4, 10, 11]);

/** How often a failed deployment is retried, or null when the request does not ask for deploys. */
export function deployRetries(req: PlacementRequest): number | null {
  const d = req.policy.deploy;
  if (d === false) return null;
  return d === true ? 2 : d.retries;
}

/** The selector's hosts MAAS could deploy for this placement (`policy.deploy`). */
export function deployCandidates(req: PlacementRequest, machines: FleetMachine[]): FleetMachine[] {
  return machines.filter(
    (m) =>
      !m.isDpu &&
      DEPLOYABLE.has(m.status) &&
      matchesSelector({ zone: m.zone, pool: m.pool, hostname: m.hostname, tags: m.tags } as never, req.selector),
  );
}

/** The same modules and policy, for this one machine. */
export function provisioningRequest(desired: PlacementRecord, machine: FleetMachine): PlacementRequest {
  const req = placementRequestSchema.parse(desired.request);
  return {
    ...req,
    selector: { hostnames: [machine.hostname] },
    dryRun: false,
    reason: 'provisioning',
    policy: { ...req.policy, deploy: false },
  };
}

export { agentUserData, AGENT_ENV_PATH, CONTROLLER_KEY_PATH, type AgentPackageSource, type AgentUserDataInput } from './agent.user-data';
export { deployMachine, DeployError, type DeployDeps, type DeployErrorCode, type DeployMaas, type DeployOutcome } from './machine.deploy';
