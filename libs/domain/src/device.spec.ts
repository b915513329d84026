import { bareNic } from './device';

describe(bareNic.name, () => {
  it('is an unprofiled NIC of the machine, named after its netdev, with nothing known of its hardware', () => {
    const { id, machineSystemId, kind, name, interfaces, linkSpeedMbps, ...unknown } = bareNic('m1', 'eth0', ['eth0', 'eth0v']);
    expect({ id, machineSystemId, kind, name, interfaces, linkSpeedMbps }).toEqual({
      id: 'm1/eth0',
      machineSystemId: 'm1',
      kind: 'nic',
      name: 'eth0',
      interfaces: ['eth0', 'eth0v'],
      linkSpeedMbps: 0,
    });
    expect(Object.keys(unknown).sort()).toEqual(
      ['vendorId', 'productId', 'vendorName', 'productName', 'firmwareVersion', 'driver', 'pciAddress', 'profileId', 'dpuSystemId'].sort(),
    );
    expect(Object.values(unknown).every((v) => v === null)).toBe(true);
  });
});
