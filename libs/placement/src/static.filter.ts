import { Hook, Target } from '@ioplane/domain';
import { hostExtraNs, latencyOf, preferPenaltyOf, utilWeightOf } from './cost.model';
import { passOf, pathOptions, PortPath } from './port.paths';
import type { RawRejection } from './machine.problem';
import { DeviceFlavour, HOST_VERDICT_KEY, PlacementDevice, PlacementModule, RejectCode } from './placement.model';

/**
 * The first of the two halves of building a machine problem from its inputs (the second is
 * trafficFilter): what the port paths, pins, verdicts and latency budgets allow, traffic aside, so
 * machines of one shape share it.
 */

function verdictFor(m: PlacementModule, flavour: DeviceFlavour, target: Target) {
  return m.verdicts[flavour.profileId] ?? (target.startsWith('host-') ? m.verdicts[HOST_VERDICT_KEY] : undefined);
}

export interface StaticOption {
  deviceIndex: number;
  flavourIndex: number;
  target: Target;
  hook: Hook;
  latency: number;
  rejection: RawRejection | null;
  /** Traffic-independent parts of the option's cost, worked out once (see figuresWith); 0 when refused. */
  extraNs: number;
  utilWeight: number;
  preferPenalty: number;
}

/** Per row, every option of its port's path in the order candidates are made. */
export type StaticFilter = StaticOption[][];

/**
 * The traffic-independent half of building a problem: per row, what the port's path offers and
 * what pins, verdicts and latency budgets refuse.
 */
export function staticFilter(
  chain: readonly PlacementModule[],
  devices: readonly PlacementDevice[],
  ports: readonly PortPath[],
  hostDevice: number,
): StaticFilter {
  const out: StaticFilter = [];
  for (const port of ports) {
    const card = port.card >= 0 ? devices[port.card] : null;
    const options = pathOptions(card);
    for (let mi = 0; mi < chain.length; mi++) {
      const m = chain[mi];
      const opts: StaticOption[] = [];
      const pin = m.pin;
      for (const o of options) {
        const di = o.host ? hostDevice : port.card;
        const flavour = devices[di].flavours[o.flavourIndex];
        const target = o.target;
        const refuse = (code: RejectCode, message: string) =>
          opts.push({
            deviceIndex: di,
            flavourIndex: o.flavourIndex,
            target,
            hook: o.hook,
            latency: 0,
            rejection: { deviceIndex: di, target, hook: o.hook, code, message },
            extraNs: 0,
            utilWeight: 0,
            preferPenalty: 0,
          });
        // A device pin names the card; its generic hook is on that card's netdev too.
        const shownId = card?.id ?? '';
        if (pin !== undefined && pin !== target && pin !== shownId) {
          refuse('pin', `module is pinned to ${pin}`);
          continue;
        }
        const v = verdictFor(m, flavour, target);
        if (!v) {
          refuse('no_verdict', `no verifier verdict for profile ${flavour.profileId}`);
          continue;
        }
        if (!v.acceptedTargets.includes(target)) {
          const why = v.reasons.filter((r) => !r.target || r.target === target).map((r) => `${r.code}: ${r.message}`);
          refuse('verifier', `verifier (${flavour.profileId}) refuses ${target}: ${why.join('; ') || 'not accepted'}`);
          continue;
        }
        const latency = latencyOf(flavour, target);
        if (latency > m.latencyBudgetUs) {
          refuse('latency', `adds ${latency} us, over the ${m.latencyBudgetUs} us budget`);
          continue;
        }
        // The receive (and skb) cost is the port card's driver's, whatever flavour it runs now.
        const extraNs = hostExtraNs(card?.flavours[0] ?? null, target, passOf(m), mi === chain.length - 1);
        opts.push({
          deviceIndex: di,
          flavourIndex: o.flavourIndex,
          target,
          hook: o.hook,
          latency,
          rejection: null,
          extraNs,
          utilWeight: utilWeightOf(target),
          preferPenalty: preferPenaltyOf(m, target),
        });
      }
      out.push(opts);
    }
  }
  return out;
}
