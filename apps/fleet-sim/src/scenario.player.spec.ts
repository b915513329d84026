import { resolve } from 'node:path';
import { MAX_WIRE_PPS, type WireTraffic } from './fleet-sim.traffic';
import type { SimAgent } from './maas-sim.agents';
import { startMaasSimulator, type MaasSimulator } from './maas-sim.server';
import { parseScenario } from './scenario.file';
import { ScenarioPlayer } from './scenario.player';

const DEMO = resolve(__dirname, '../../../fleets/demo.yaml');

// zone-c's hosts surge from 20 to 2,000 pps at step 2, and one module is asked for more than a sender paces.
const SCENARIO = parseScenario(`
name: wire-spec
stepSeconds: 1
steps: 4
traffic:
  - selector: { zones: [zone-c] }
    module: ddos-drop
    pattern: { kind: surge, base: 20, factor: 100, from: 2, steps: 1 }
  - selector: { zones: [zone-c] }
    module: flow-counter
    pattern: { kind: surge, base: 1, factor: 1000000, from: 3, steps: 1 }
`);

/** The wire as the player drives it: which sender runs at which rate, per port. */
function recordingWire(portsOf: (systemId: string) => string[]) {
  const running = new Map<string, number>();
  const wire = {
    ports: portsOf,
    async start(systemId: string, iface: string, pps: number) {
      running.set(`${systemId}/${iface}`, pps);
    },
    async stop(systemId: string, iface: string) {
      running.delete(`${systemId}/${iface}`);
      return 1;
    },
  };
  return { wire: wire as unknown as WireTraffic, running };
}

describe('scenario player on agent processes: the step as real packets at the wire', () => {
  let sim: MaasSimulator;
  beforeAll(async () => {
    sim = await startMaasSimulator({ fleetFile: DEMO, port: 0, timeScale: 0.01 });
  });
  afterAll(() => sim.close());

  it("starts each packet-true host's senders at the step's rate on every port, capped at the sender's pace; hosts without a wire are named skipped", async () => {
    const zoneC = sim.model.hosts.filter((m) => m.zone === 'zone-c');
    expect(zoneC.length).toBeGreaterThan(1);
    const [withWire, withoutWire] = zoneC;
    // Agent processes: no emulated driver takes a number, only packets count.
    const agents = new Map<string, SimAgent>(zoneC.map((m) => [m.systemId, {} as SimAgent]));
    const { wire, running } = recordingWire((id) => (id === withWire.systemId ? ['ens1f0', 'ens1f1'] : []));
    const player = new ScenarioPlayer(SCENARIO, { store: sim.store, agents, url: sim.url, apiKey: sim.apiKey, traffic: wire });
    try {
      const calm = await player.apply(0);
      expect(calm.wire).toEqual({ [withWire.hostname]: 20 });
      expect(calm.skipped).toContain(withoutWire.hostname);
      expect(Object.fromEntries(running)).toEqual({ [`${withWire.systemId}/ens1f0`]: 20, [`${withWire.systemId}/ens1f1`]: 20 });

      await player.apply(2);
      expect(Object.fromEntries(running)).toEqual({ [`${withWire.systemId}/ens1f0`]: 2000, [`${withWire.systemId}/ens1f1`]: 2000 });

      const capped = await player.apply(3);
      expect(capped.wire[withWire.hostname]).toBe(MAX_WIRE_PPS);
    } finally {
      player.close();
    }
  });
});
