import type { DesiredChain } from './machine.desired';
import { probeStop } from './machine.runbook';

const chain = (deviceId: string, target: DesiredChain['target'], iface: string): DesiredChain => ({
  deviceId,
  target,
  port: 0,
  interface: iface,
  modules: [],
});
const nic = chain('m1/nfp0', 'nic-xdp-offload', 'ens1f0');
const host = chain('m1/nfp0~xdp', 'host-xdp-generic', 'ens1f0');

describe('probeStop: where probe packets sent at a port stopped, from per-module chain counters in hop order', () => {
  it('every module counted: nothing to say', () => {
    expect(
      probeStop([
        { chain: nic, module: 'acl', packets: 50 },
        { chain: host, module: 'lb', packets: 50 },
      ]),
    ).toBeNull();
  });

  it('none counted on the port: the chain is not on its path', () => {
    expect(
      probeStop([
        { chain: host, module: 'lb', packets: 0 },
        { chain: host, module: 'ddos', packets: 0 },
      ]),
    ).toBe(
      "verify m1/nfp0~xdp: no module counted the probe packets sent at ens1f0's wire: lb (host-xdp-generic on m1/nfp0~xdp at ens1f0), ddos (host-xdp-generic on m1/nfp0~xdp at ens1f0) not on that port's path (attached to another interface)",
    );
  });

  it('counted up to a hop, then none: names the last hop that saw them and the first that did not', () => {
    expect(
      probeStop([
        { chain: nic, module: 'acl', packets: 50 },
        { chain: host, module: 'lb', packets: 0 },
        { chain: host, module: 'ddos', packets: 0 },
      ]),
    ).toBe(
      'verify m1/nfp0~xdp: probe packets at ens1f0 stop after acl (nic-xdp-offload on m1/nfp0 at ens1f0) counted 50: lb (host-xdp-generic on m1/nfp0~xdp at ens1f0) counted none; the hop between drops them',
    );
  });

  it('ports are judged apart: a second port whose chain counted is not blamed for the first', () => {
    const other = chain('m1/nfp0~xdp', 'host-xdp-generic', 'ens1f1');
    expect(
      probeStop([
        { chain: other, module: 'lb', packets: 50 },
        { chain: host, module: 'lb', packets: 0 },
      ]),
    ).toMatch(/sent at ens1f0's wire/);
  });
});
