import { device } from '@ioplane/domain/testing';
import { hostXdpDeviceId, type Target } from '@ioplane/domain';
import { loadProfiles } from '@ioplane/profiles';
import { hopExecutor } from './hop.executor';

describe(hopExecutor.name, () => {
  const profiles = loadProfiles();
  const cx6 = device('connectx-6dx', { machine: 'h1', slot: 1 });
  const x710 = device('intel-x710', { machine: 'h1', slot: 2 });
  const run = hopExecutor([cx6, x710], profiles);
  const hop = (deviceId: string, target: Target, port = 1) => run({ module: 'm', deviceId, target, interface: 'ens1f1', port });

  it('sends driver and generic XDP on the netdev of a card with hardware hooks to its host-XDP device, same port', () => {
    expect(hop(cx6.id, 'host-xdp-native')).toEqual({ deviceId: hostXdpDeviceId(cx6.id), port: 1 });
    expect(hop(cx6.id, 'host-xdp-generic')).toEqual({ deviceId: hostXdpDeviceId(cx6.id), port: 1 });
  });

  it("keeps the card's hardware hooks on the card, and host XDP of a host-XDP-only card on its own driver", () => {
    expect(hop(cx6.id, 'nic-flow-offload')).toEqual({ deviceId: cx6.id, port: 1 });
    expect(hop(x710.id, 'host-xdp-native', 0)).toEqual({ deviceId: x710.id, port: 0 });
    expect(hop('h1/unknown', 'host-xdp-native', 0)).toEqual({ deviceId: 'h1/unknown', port: 0 });
  });
});
