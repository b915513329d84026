import { hostXdpDeviceId } from '@ioplane/domain';
import { device } from '@ioplane/domain/testing';
import { desiredState, PlannedMachine, portLayout, RolloutModule } from './machine.desired';

const art = (name: string): RolloutModule => ({
  name,
  version: '1',
  digest: name,
  program: 'xdp',
  persistentMaps: [],
  object: Buffer.from(name),
  pps: 1,
  vectors: [],
});
const modules = new Map(['acl', 'lb', 'ddos'].map((n) => [n, art(n)]));
// An Agilio in its BPF flavour (XDP offload) on host s1, ports ens1f0 and ens1f1.
const card = device('agilio-cx-bpf', { machine: 's1' });
const [p0, p1] = card.interfaces;
const hop = (module: string, deviceId: string, target: PlannedMachine['placements'][string]['target'], iface: string, port: number) => ({
  module,
  deviceId,
  target,
  interface: iface,
  port,
});

describe(desiredState.name, () => {
  const plan: PlannedMachine = {
    systemId: 's1',
    hostname: 'h1',
    feasible: true,
    flavourSwitches: {},
    placements: {},
    paths: [
      {
        hops: [
          hop('acl', card.id, 'nic-xdp-offload', p0, 0),
          hop('lb', card.id, 'host-xdp-generic', p0, 0),
          hop('ddos', card.id, 'host-xdp-generic', p0, 0),
        ],
      },
      {
        hops: [
          hop('acl', card.id, 'nic-xdp-offload', p1, 1),
          hop('lb', card.id, 'host-xdp-generic', p1, 1),
          hop('ddos', card.id, 'host-xdp-generic', p1, 1),
        ],
      },
    ],
  };

  it('loads one chain per port and hook, modules in packet order, on the port the plan names', () => {
    const want = desiredState(plan, ['acl', 'lb', 'ddos'], modules);
    expect(want.chains.map((c) => [c.deviceId, c.port, c.target, c.modules.map((m) => m.name)])).toEqual([
      [card.id, 0, 'nic-xdp-offload', ['acl']],
      [card.id, 0, 'host-xdp-generic', ['lb', 'ddos']],
      [card.id, 1, 'nic-xdp-offload', ['acl']],
      [card.id, 1, 'host-xdp-generic', ['lb', 'ddos']],
    ]);
    const layout = portLayout(want.chains, () => ({ programSlotsPerPort: 1, ports: 1 }));
    expect(want.chains.map((c) => layout.get(c)!.map((p) => [p.port, p.modules.length]))).toEqual([[[0, 1]], [[0, 2]], [[1, 1]], [[1, 2]]]);
  });

  it('sends a hop where the agent runs it when that differs from the card the plan names', () => {
    // A card with hardware hooks: the host XDP on its netdevs runs in the agent's host-XDP device for them.
    const want = desiredState(plan, ['acl', 'lb', 'ddos'], modules, (h) =>
      h.target === 'host-xdp-generic' ? { deviceId: hostXdpDeviceId(h.deviceId), port: h.port } : { deviceId: h.deviceId, port: h.port },
    );
    expect(want.chains.filter((c) => c.deviceId === hostXdpDeviceId(card.id)).map((c) => [c.port, c.interface])).toEqual([
      [0, p0],
      [1, p1],
    ]);
  });
});
