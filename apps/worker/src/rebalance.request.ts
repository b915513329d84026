import type { PlacementRequest } from '@ioplane/planning';
import type { ObservedTraffic } from '@ioplane/rebalance';

/**
 * The placement a rebalance submits: the chain and policy of the placement the machines follow,
 * on just these machines, with the traffic they were observed carrying. It goes through the
 * normal plan and rollout (waves, health checks) like any other placement.
 */
export function rebalanceRequest(
  source: PlacementRequest,
  hostnames: string[],
  observed: Array<Record<string, ObservedTraffic>>,
): PlacementRequest {
  const traffic = (name: string) => {
    const seen = observed.map((o) => o[name]).filter((t): t is ObservedTraffic => !!t && t.pps > 0);
    if (!seen.length) return undefined;
    // The busiest machine of the group sets the rate: the plan must carry all of them.
    const top = seen.reduce((a, b) => (b.pps > a.pps ? b : a));
    return { pps: Math.max(1, Math.round(top.pps)), meanPacketBytes: Math.min(9216, Math.max(64, Math.round(top.meanPacketBytes || 64))) };
  };
  return {
    ...source,
    selector: { hostnames: [...hostnames].sort() },
    modules: source.modules.map((m) => {
      const t = traffic(m.name);
      return t ? { ...m, traffic: t } : m;
    }),
    dryRun: false,
    reason: 'rebalance',
  };
}
