import { execFileSync } from 'node:child_process';
import { describeKernel } from '@ioplane/compiler/testing';
import { hostXdpDeviceId } from '@ioplane/domain';
import { Harness, hostId, http, startSyncedHarness, waitStatus } from './harness';

const ENDED = ['completed', 'failed', 'cancelled', 'infeasible', 'rolled-back'];
const ROLLOUT = { canary: 0, waves: [100], maxUnavailable: 4, failureThreshold: 1 };

/**
 * Driver XDP on the netdev of a card with hardware hooks is the host kernel's, as generic XDP is:
 * the agent runs it in the card's host-XDP device, so a packet-true health check counts the probe
 * in the kernel chain instead of calling a modeled counter a probe not run.
 */
describeKernel('driver XDP on a ConnectX port, on a packet-true fleet', (itKernel) => {
  let h: Harness;

  beforeAll(async () => {
    if (process.getuid?.() === 0) h = await startSyncedHarness({ agents: { kernel: 'auto', timeScale: 0.002 } });
  }, 600_000);
  afterAll(() => h?.stop(), 120_000);

  itKernel(
    "a single module on core-c04's ConnectX-6 Dx port picks xdp-native, runs in the card's host-XDP device and commits with the probe counted by the kernel chain",
    async () => {
      if (process.getuid?.() !== 0) return console.warn('SKIP: not root');
      const systemId = hostId(h, 'core-c04');
      const fm = (await http(h.apiUrl, 'GET', `/v1/fleet/machines/${systemId}`)).body;
      const card = fm.devices.find(
        (d: { profileId: string | null; interfaces: string[] }) =>
          d.profileId === 'mellanox-connectx-6dx-22.39' && d.interfaces.includes('ens1f0'),
      );
      expect(card).toBeDefined();

      // What the agent offers there: the card's own (emulated) driver only its flow offload, its host-XDP device driver and generic XDP in the kernel.
      const inv = await h.agent(systemId).inventory();
      expect(inv.devices.find((d) => d.device.id === card.id)).toMatchObject({ targets: ['nic-flow-offload'] });
      expect(inv.devices.find((d) => d.device.id === hostXdpDeviceId(card.id))).toMatchObject({
        driver: 'kernel-xdp',
        targets: ['host-xdp-native', 'host-xdp-generic'],
      });

      const req = {
        selector: { hostnames: ['core-c04'] },
        ingress: { interfaces: ['ens1f0'] },
        modules: [{ name: 'l4-lb' }],
        policy: { hostCoreBudget: 4, rollout: ROLLOUT },
      };
      const dry = await http(h.apiUrl, 'POST', '/v1/placements', { ...req, dryRun: true });
      expect({ status: dry.status, error: dry.body.error }).toEqual({ status: 200, error: undefined });
      const [planned] = dry.body.plan.machines;
      expect(
        planned.paths.map((p: { hops: { module: string; hook: string; deviceId: string; interface: string }[] }) =>
          p.hops.map((x) => ({ module: x.module, hook: x.hook, deviceId: x.deviceId, interface: x.interface })),
        ),
      ).toEqual([[{ module: 'l4-lb', hook: 'xdp-native', deviceId: card.id, interface: 'ens1f0' }]]);

      const res = await http(h.apiUrl, 'POST', '/v1/placements', req);
      expect(res.status).toBe(202);
      const done = await waitStatus(h, res.body.id, ENDED);
      const [m] = done.rollout.machines;
      expect({ status: done.status, state: m.state, reason: m.reason }).toEqual({ status: 'completed', state: 'committed', reason: null });
      // The probe sent at ens1f0's wire crossed the card's NIC stage and was counted by the kernel chain on the netdev.
      expect(m.probe.hops).toEqual([
        expect.objectContaining({ module: 'l4-lb', target: 'host-xdp-native', deviceId: hostXdpDeviceId(card.id), source: 'chain' }),
      ]);
      expect(m.probe.hops[0].packets).toBeGreaterThan(0);

      // Attached in driver mode (XDP_ATTACHED_DRV = 1) on the MAAS-named netdev in the machine's namespace.
      const link = (
        JSON.parse(
          execFileSync('ip', ['-n', `iop-${h.sim.agentInstanceId}-core-c04`, '-j', 'link', 'show', 'ens1f0'], { encoding: 'utf8' }),
        ) as { xdp?: { mode: number; prog?: { id: number } } }[]
      )[0];
      expect({ mode: link.xdp?.mode, attached: typeof link.xdp?.prog?.id }).toEqual({ mode: 1, attached: 'number' });
      const programs = await h.agent(systemId).programs();
      expect(programs.devices.find((d) => d.deviceId === hostXdpDeviceId(card.id))!.ports[0].current).toMatchObject({
        target: 'host-xdp-native',
        mode: 'native',
        committed: true,
      });
      expect(programs.devices.find((d) => d.deviceId === card.id)!.ports.every((p) => !p.current)).toBe(true);
    },
    300_000,
  );
});
