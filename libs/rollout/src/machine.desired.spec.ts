import { hostXdpDeviceId } from '@ioplane/domain';
import { desiredState, PlannedMachine, portLayout, RolloutModule } from './machine.desired';

const art = (name: string): RolloutModule => ({ name, version: '1', digest: name, program: 'xdp', persistentMaps: [], object: Buffer.from(name), pps: 1, vectors: [] });
const modules = new Map(['acl', 'lb', 'ddos'].map((n) => [n, art(n)]));
const hop = (module: string, deviceId: string, target: PlannedMachine['placements'][string]['target'], iface: string, port: number) => ({ module, deviceId, target, interface: iface, port });

describe(desiredState.name, () => {
  const plan: PlannedMachine = {
    systemId: 's1', hostname: 'h1', feasible: true, flavourSwitches: {}, placements: {},
    paths: [
      { hops: [hop('acl', 's1/ens1f0', 'nic-xdp-offload', 'ens1f0', 0), hop('lb', 's1/ens1f0', 'host-xdp-generic', 'ens1f0', 0), hop('ddos', 's1/ens1f0', 'host-xdp-generic', 'ens1f0', 0)] },
      { hops: [hop('acl', 's1/ens1f0', 'nic-xdp-offload', 'ens1f1', 1), hop('lb', 's1/ens1f0', 'host-xdp-generic', 'ens1f1', 1), hop('ddos', 's1/ens1f0', 'host-xdp-generic', 'ens1f1', 1)] },
    ],
  };

  it('loads one chain per port and hook, modules in packet order, on the port the plan names', () => {
    const want = desiredState(plan, ['acl', 'lb', 'ddos'], modules);
    expect(want.chains.map((c) => [c.deviceId, c.port, c.target, c.modules.map((m) => m.name)])).toEqual([
      ['s1/ens1f0', 0, 'nic-xdp-offload', ['acl']],
      ['s1/ens1f0', 0, 'host-xdp-generic', ['lb', 'ddos']],
      ['s1/ens1f0', 1, 'nic-xdp-offload', ['acl']],
      ['s1/ens1f0', 1, 'host-xdp-generic', ['lb', 'ddos']],
    ]);
    const layout = portLayout(want.chains, () => ({ programSlotsPerPort: 1, ports: 1 }));
    expect(want.chains.map((c) => layout.get(c)!.map((p) => [p.port, p.modules.length]))).toEqual([[[0, 1]], [[0, 2]], [[1, 1]], [[1, 2]]]);
  });

  it('sends a hop where the agent runs it when that differs from the card the plan names', () => {
    // A card with hardware hooks: the host XDP on its netdevs runs in the agent's host-XDP device for them.
    const want = desiredState(plan, ['acl', 'lb', 'ddos'], modules, (h) => (h.target === 'host-xdp-generic' ? { deviceId: hostXdpDeviceId(h.deviceId), port: h.port } : { deviceId: h.deviceId, port: h.port }));
    expect(want.chains.filter((c) => c.deviceId === 's1/ens1f0~xdp').map((c) => [c.port, c.interface])).toEqual([[0, 'ens1f0'], [1, 'ens1f1']]);
  });
});
