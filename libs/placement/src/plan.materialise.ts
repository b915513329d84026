import { Hook, HOOK_POSITION, Target } from '@ioplane/domain';
import { chainRates, hookInterface } from './port.paths';
import { buildProblem, shownDeviceId } from './machine.problem';
import { bindDevices } from './plan.words';
import { explain } from './plan.explain';
import { decisionsOf, MachineSolution, solveProblem, SolveOptions } from './machine.solver';
import {
  Hop,
  MachinePlan,
  ModulePlacement,
  PathPlan,
  PlacementMachine,
  PlacementModule,
  RefusalRule,
  RejectCode,
  Rejection,
  ruleOf,
} from './placement.model';

/**
 * The hook positions as a local binding: an imported one is read through a getter on every use
 * (CommonJS re-exports), and these are read for every hop of every machine.
 */
const POSITION = HOOK_POSITION;

/**
 * Turn a class solution into one machine's plan: that machine's device ids and interface names,
 * and the rates it really sees (the class may have been solved at its traffic bucket's edge).
 */
export function materialise(
  machine: PlacementMachine,
  deviceIds: readonly string[],
  s: MachineSolution,
  keepDecisions = true,
): MachinePlan {
  const p = s.problem;
  const ids = { devices: deviceIds.map((id) => ({ id })) as never, hostDevice: p.hostDevice, ports: p.ports };
  // What each port's modules really see, computed once per port (not per hop).
  const ratesOf = p.ports.map((pp) => chainRates(machine, machine.ports[pp.index], p.chain));
  const paths: PathPlan[] = p.ports.map((pp, pi) => {
    const port = machine.ports[pp.index];
    const rates = ratesOf[pi];
    const entering = rates[0] ?? pp.entering;
    return {
      ingress: {
        interface: port.interface,
        deviceId: pp.card >= 0 ? deviceIds[pp.card] : '',
        pps: entering.pps,
        meanPacketBytes: entering.meanPacketBytes,
      },
      hops: [],
    };
  });
  const placements: Record<string, ModulePlacement> = {};
  const namesOf = p.ports.map((_, pi) => {
    const names = [...deviceIds];
    names[p.hostDevice] = shownDeviceId(ids, p.hostDevice, pi);
    return names;
  });
  if (s.feasible) {
    const n = p.chain.length;
    // A solution read once (a class of one machine) is explained without keeping the explanation:
    // a fleet plan of distinct machines would otherwise hold every machine's reasons until it dies.
    const decisions = keepDecisions ? decisionsOf(s) : (s.decisions ?? (s.assignment ? explain(p, s.assignment) : []));
    for (const d of decisions) {
      const pi = p.rowPort[d.row];
      const port = machine.ports[p.ports[pi].index];
      const onPort = p.ports[pi].port;
      // The host kernel's generic hook is named by the card that owns the netdev, in words too.
      const names = namesOf[pi];
      const deviceId = names[d.deviceIndex];
      // DPU hooks attach to the DPU's uplink p<k>, the others to the host interface (see hookInterface).
      const dpuInterface = hookInterface('dpu-xdp', port.interface, onPort);
      const rejected: Rejection[] = new Array(d.rejected.length);
      for (let j = 0; j < d.rejected.length; j++) {
        const r = d.rejected[j];
        const onDpu = r.hook === 'dpu-xdp' || r.hook === 'dpu-flow';
        rejected[j] = new BoundRejection(
          names[r.deviceIndex],
          r.target,
          r.hook,
          onDpu ? dpuInterface : port.interface,
          ruleOf(r.code),
          r.code,
          r,
          names,
        );
      }
      const reasons = d.reasons.map((r) => bindDevices(r, names));
      const hop: Hop = {
        module: d.module,
        target: d.target,
        deviceId,
        interface: hookInterface(d.hook, port.interface, onPort),
        hook: d.hook,
        position: POSITION[d.hook],
        port: onPort,
        profileId: d.profileId,
        pps: ratesOf[pi][d.row % n]?.pps ?? 0,
        costBreakdown: d.costBreakdown,
        reasons,
        rejected,
      };
      paths[pi].hops.push(hop);
      placements[d.module] ??= {
        module: d.module,
        deviceId,
        target: d.target,
        profileId: d.profileId,
        costBreakdown: d.costBreakdown,
        reasons,
        rejected,
      };
    }
  }
  return {
    systemId: machine.systemId,
    hostname: machine.hostname,
    feasible: s.feasible,
    paths: s.feasible ? paths : [],
    placements,
    infeasible: s.infeasible.map((x) => ({ ...x, message: bindDevices(x.message, deviceIds) })),
    cost: s.cost,
    lowerBound: s.lowerBound,
    // Object.fromEntries costs more than the rest of this literal: a plan switching no firmware skips it.
    flavourSwitches: s.flavourSwitches.length === 0 ? {} : Object.fromEntries(s.flavourSwitches.map(([d, id]) => [deviceIds[d], id])),
    solver: s.solver,
  };
}

/**
 * A refused position as a plan shows it: its message is the template's, with this machine's
 * device ids, worded and bound when first read (API, CLI, explain), never for a plan only checked
 * or stored as numbers. JSON carries the same fields, in the same order, as a plain object would.
 */
class BoundRejection implements Rejection {
  private text: string | undefined;
  readonly interface: string;
  readonly costDelta?: number;

  constructor(
    readonly deviceId: string,
    readonly target: Target,
    readonly hook: Hook,
    iface: string,
    readonly rule: RefusalRule,
    readonly code: RejectCode,
    private readonly source: { readonly message: string },
    private readonly names: readonly string[],
  ) {
    this.interface = iface;
    // Set on every one (undefined but for cost), so all share one object shape.
    this.costDelta = code === 'cost' ? (source as { costDelta?: number }).costDelta : undefined;
  }

  get message(): string {
    return (this.text ??= bindDevices(this.source.message, this.names));
  }

  toJSON(): Rejection {
    const { deviceId, target, hook, rule, code, costDelta } = this;
    const out: Rejection = { deviceId, target, hook, interface: this.interface, rule, code, message: this.message };
    if (costDelta !== undefined) out.costDelta = costDelta;
    return out;
  }
}

/** Plan one machine on its own (no equivalence-class cache, no fleet-scoped coupling). */
export function planMachine(machine: PlacementMachine, modules: readonly PlacementModule[], opts: SolveOptions = {}): MachinePlan {
  const p = buildProblem(machine, modules);
  return materialise(
    machine,
    p.devices.map((d) => d.id),
    solveProblem(p, opts),
  );
}
