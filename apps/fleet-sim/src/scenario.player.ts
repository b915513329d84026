import { MaasClient } from '@ioplane/maas';
import type { SimAgent } from './maas-sim.agents';
import type { MaasSimStore } from './maas-sim.store';
import { MAX_WIRE_PPS, type WireTraffic } from './fleet-sim.traffic';
import { Scenario, trafficAt } from './scenario.file';

interface TrafficDriver {
  setTraffic(module: string, pps: number | null): void;
}

function canSetTraffic(d: unknown): d is TrafficDriver {
  return typeof (d as Partial<TrafficDriver>).setTraffic === 'function';
}

export interface StepReport {
  step: number;
  /** hostname -> module -> pps set on its emulated devices. */
  traffic: Record<string, Record<string, number>>;
  released: string[];
  /**
   * hostname -> pps sent as real packets at each of its ports' wire: an agent process counts only
   * real packets, so the step's traffic reaches it as packets (the largest module rate, capped at
   * the sender's MAX_WIRE_PPS), not as a number given to a model.
   */
  wire: Record<string, number>;
  /** Hosts whose agents run as processes where the simulator has no wire to send on. */
  skipped: string[];
}

/**
 * Replays a scenario on the simulator's agents: at each step every matching host's emulated
 * devices count the scenario's pps for each module (whichever device runs it), or, where the agent
 * is a process on a packet-true host, real packets go in at its ports' wire; events act on
 * MAAS over its API. `play()` steps on a timer, `speed` times faster than scenario time; tests
 * call `apply(step)` themselves, one step per telemetry window.
 */
export class ScenarioPlayer {
  private timer: NodeJS.Timeout | null = null;
  private next = 0;
  private readonly maas: MaasClient;

  constructor(
    readonly scenario: Scenario,
    private readonly sim: { store: MaasSimStore; agents: Map<string, SimAgent>; url: string; apiKey: string; traffic?: WireTraffic | null },
  ) {
    this.maas = new MaasClient({ url: sim.url, apiKey: sim.apiKey });
  }

  async apply(step: number): Promise<StepReport> {
    const report: StepReport = { step, traffic: {}, released: [], wire: {}, skipped: [] };
    for (const [systemId, agent] of this.sim.agents) {
      const m = this.sim.store.find(systemId);
      if (!m) continue;
      const traffic = trafficAt(this.scenario, { hostname: m.hostname, zone: m.zone, pool: m.pool, tags: [...m.tags] }, step);
      if (!Object.keys(traffic).length) continue;
      // Only an embedded agent's emulated drivers can be given traffic; an agent process counts real packets.
      const drivers = [...(agent.drivers?.values() ?? [])];
      if (!drivers.some(canSetTraffic)) {
        const ports = this.sim.traffic?.ports(systemId) ?? [];
        if (!ports.length) {
          report.skipped.push(m.hostname);
          continue;
        }
        const pps = Math.min(MAX_WIRE_PPS, Math.max(...Object.values(traffic)));
        for (const port of ports) {
          if (pps > 0) await this.sim.traffic!.start(systemId, port, pps);
          else await this.sim.traffic!.stop(systemId, port);
        }
        report.wire[m.hostname] = pps;
        continue;
      }
      for (const d of drivers) if (canSetTraffic(d)) for (const [module, pps] of Object.entries(traffic)) d.setTraffic(module, pps);
      report.traffic[m.hostname] = traffic;
    }
    for (const e of this.scenario.events.filter((x) => x.at === step)) {
      for (const hostname of e.release) {
        const m = this.sim.store.list().find((x) => x.hostname === hostname);
        if (!m) throw new Error(`scenario ${this.scenario.name}: events at step ${step}: no machine ${hostname}`);
        await this.maas.release(m.systemId, { comment: `scenario ${this.scenario.name}` });
        report.released.push(hostname);
      }
    }
    return report;
  }

  /** Plays from the current step on a timer (unref'd): stepSeconds / speed real seconds per step. */
  play(speed = 1, onStep?: (r: StepReport) => void, onError?: (e: Error) => void): void {
    this.stop();
    const tick = () => {
      if (this.next >= this.scenario.steps) return this.stop();
      // A step that fails goes to the caller's handler, or becomes a warning: never an unhandled rejection.
      this.apply(this.next++).then(onStep, (e: Error) =>
        onError ? onError(e) : process.emitWarning(`scenario step failed: ${e.message}`),
      );
    };
    tick();
    this.timer = setInterval(tick, (this.scenario.stepSeconds * 1000) / speed);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  close(): void {
    this.stop();
    this.maas.close();
  }
}
