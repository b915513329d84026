import { netInterface as nic } from '@ioplane/domain/testing';
import { selectIngress } from './ingress.select';

describe(selectIngress.name, () => {
  const ifaces = [
    nic('ens1f0', { subnets: ['127.77.1.0/24'] }),
    nic('ens1f1'),
    nic('ens2f0np0', { subnets: ['10.77.1.0/24'], vlan: { vid: 100, fabric: 'fabric-data' }, tags: ['data'] }),
    nic('ens3f0', { children: ['bond0'] }),
    nic('ens3f1', { children: ['bond0'] }),
    nic('bond0', { type: 'bond', parents: ['ens3f0', 'ens3f1'], subnets: ['10.77.2.0/24'] }),
    nic('ens4f0', { subnets: ['10.77.3.0/24'], enabled: false }),
  ];

  it('takes the uplinks by default: every enabled interface linked to a subnet, a bond as its members', () => {
    expect(selectIngress(ifaces, undefined)).toEqual(['ens1f0', 'ens2f0np0', 'ens3f0', 'ens3f1']);
  });

  it('narrows by name, fabric, VLAN and tag, every given field together', () => {
    expect(selectIngress(ifaces, { interfaces: ['ens1f1'] })).toEqual(['ens1f1']);
    expect(selectIngress(ifaces, { fabrics: ['fabric-data'] })).toEqual(['ens2f0np0']);
    expect(selectIngress(ifaces, { vlans: [100], uplinks: true })).toEqual(['ens2f0np0']);
    expect(selectIngress(ifaces, { tags: ['data'], interfaces: ['ens1f0'] })).toEqual([]);
    expect(selectIngress(ifaces, { interfaces: ['bond0'] })).toEqual(['ens3f0', 'ens3f1']);
  });

  it('takes nothing from an inventory synced before interfaces carried their subnets', () => {
    expect(selectIngress([nic('ens1f0', { subnets: undefined })], undefined)).toEqual([]);
  });
});
