import type { MachineTopology } from '@ioplane/devices';
import { MAX_WIRE_PPS, WireTraffic } from './fleet-sim.traffic';
import { handleTraffic } from './maas-sim.handlers.traffic';

const topology: MachineTopology = {
  hostname: 'core-c01',
  instanceId: 't',
  hostNetns: 'iop-t-core-c01',
  namespaces: ['iop-t-core-c01', 'iop-t-core-c01-wire'],
  renamed: {},
  ports: [
    {
      interface: 'ens2f0np0',
      netdev: 'ens2f0np0',
      hostAddress: '10.0.0.2',
      wireAddress: '10.0.0.1',
      hops: [{ kind: 'wire', netns: 'iop-t-core-c01-wire', ingress: 'w0', egress: null }],
    },
  ],
};
const json = (x: unknown) => Buffer.from(JSON.stringify(x));

describe(handleTraffic.name, () => {
  const sut = new WireTraffic((id) => (id === 'abc123' ? topology : null));

  it('refuses without a packet-true fleet, saying why', async () => {
    expect(await handleTraffic(null, 'GET', [], Buffer.alloc(0))).toMatchObject({
      status: 409,
      body: { error: { code: 'not_packet_true', field: 'fleet' } },
    });
  });

  it('refuses a rate above the cap, none, or a bad packet count, naming the field, and starts nothing', async () => {
    for (const pps of [0, -1, MAX_WIRE_PPS + 1, 'fast', null]) {
      expect(await handleTraffic(sut, 'PUT', ['abc123', 'ens2f0np0'], json({ pps }))).toMatchObject({
        status: 400,
        body: { error: { code: 'invalid_rate', field: 'pps' } },
      });
    }
    for (const packets of [-1, 1.5, 'all']) {
      expect(await handleTraffic(sut, 'PUT', ['abc123', 'ens2f0np0'], json({ pps: 10, packets }))).toMatchObject({
        status: 400,
        body: { error: { field: 'packets' } },
      });
    }
    expect(await handleTraffic(sut, 'PUT', ['abc123', 'ens2f0np0'], json({ pps: 10, burst: true }))).toMatchObject({
      status: 400,
      body: { error: { code: 'validation', field: 'burst' } },
    });
    expect(await handleTraffic(sut, 'PUT', ['abc123', 'ens2f0np0'], Buffer.from('{'))).toMatchObject({
      status: 400,
      body: { error: { field: 'body' } },
    });
    expect((await handleTraffic(sut, 'GET', [], Buffer.alloc(0))).body).toMatchObject({ senders: [], maxPps: MAX_WIRE_PPS });
  });

  it('names the machine or port it does not know', async () => {
    expect(await handleTraffic(sut, 'PUT', ['nope', 'ens2f0np0'], json({ pps: 10 }))).toMatchObject({
      status: 409,
      body: { error: { code: 'not_packet_true', field: 'systemId' } },
    });
    const r = await handleTraffic(sut, 'PUT', ['abc123', 'ens9'], json({ pps: 10 }));
    expect(r).toMatchObject({ status: 404, body: { error: { code: 'unknown_port', field: 'interface' } } });
    expect((r.body as { error: { message: string } }).error.message).toBe('core-c01 has no port ens9; it has ens2f0np0');
  });

  it('answers other methods and paths with what it takes', async () => {
    expect(await handleTraffic(sut, 'POST', ['abc123', 'ens2f0np0'], json({ pps: 10 }))).toMatchObject({ status: 405 });
    expect(await handleTraffic(sut, 'PUT', ['abc123', 'ens2f0np0', 'x'], json({ pps: 10 }))).toMatchObject({ status: 404 });
    expect(await handleTraffic(sut, 'DELETE', [], Buffer.alloc(0))).toEqual({ status: 200, body: { stopped: 0 } });
  });
});
