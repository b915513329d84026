import { catalogDevice, planMachine, PlacementMachine, PlacementModule } from '@ioplane/placement';
import { assertValidPlans, PlanValidationError } from './placement.planner';

const mod = (name: string, chainPosition: number): PlacementModule => ({
  name, version: '1', chainPosition, traffic: { pps: 1e6, meanPacketBytes: 256 }, latencyBudgetUs: 10, prefer: 'auto', hostNsPerPacket: 50, costEstimated: false,
  instructions: 100, mapMemoryBytes: 0, verdicts: { 'host-kernel': { acceptedTargets: ['host-xdp-native', 'host-xdp-generic'], reasons: [] }, 'intel-x710-9.20': { acceptedTargets: ['host-xdp-native'], reasons: [] } },
});

describe(assertValidPlans.name, () => {
  const machine: PlacementMachine = {
    systemId: 's1', hostname: 'h1', zone: 'z', pool: 'p', tags: [], hostCores: 8, hostCoreBudget: 4, currentPlacement: {},
    devices: [catalogDevice('s1/ens1f0', 'nic', 'intel-x710-9.20', false, ['ens1f0', 'ens1f1'])], ports: [{ interface: 'ens1f0' }],
  };
  const modules = [mod('a', 0), mod('b', 1)];
  const good = planMachine(machine, modules);

  it('lets a valid plan through', () => {
    expect(() => assertValidPlans([machine], modules, [good], [])).not.toThrow();
  });

  it('refuses a plan whose chain is split off its port, naming the machine and the rule', () => {
    const split = { ...good, paths: [{ ...good.paths[0], hops: good.paths[0].hops.slice(0, 1) }] };
    let err: unknown;
    try {
      assertValidPlans([machine], modules, [split], []);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PlanValidationError);
    expect((err as PlanValidationError).code).toBe('invalid_plan');
    expect((err as PlanValidationError).violations[0]).toMatchObject({ systemId: 's1', constraint: 'split_chain' });
  });
});
