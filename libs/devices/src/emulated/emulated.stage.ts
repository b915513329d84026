import type { Device } from '@ioplane/domain';
import type { ChainModule, ModuleCounters, VectorOutcome, VectorRequest } from '../device.driver';
import type { FaultBook } from '../fault.book';
import { KernelXdpDriver } from '../kernel-xdp.driver';

/** Where an emulated device's hardware stands on each port's path: a namespace of the packet-true fleet. */
export interface StageSpec {
  netns: string;
  /** Per port: the netdev packets from the wire enter the stage through (`s0in`, `p0`); null when the port has no stage. */
  netdevs: (string | null)[];
  /** Sends packets at the wire in front of a port. */
  wire?: (port: number, packets: number) => Promise<number>;
  agentId: string;
  stateDir: string;
}

/**
 * The part of an emulated SmartNIC or DPU that runs in a real kernel: once the profile's offload
 * verifier accepted a chain, it runs as XDP on the stage's ingress netdev, loaded by the same
 * kernel driver a host uses, so probe packets from the wire meet it before the host and its
 * chain counters count them per module.
 */
export class KernelStage {
  private readonly driver: KernelXdpDriver;
  private ready: Promise<void> | null = null;
  private readonly running = new Set<number>();

  constructor(
    private readonly spec: StageSpec,
    device: Device,
    faults: FaultBook,
  ) {
    const interfaces = spec.netdevs.map((n, i) => n ?? `nostage${i}`);
    this.driver = new KernelXdpDriver({
      agentId: spec.agentId,
      device: { ...device, id: `${device.id}#stage`, interfaces },
      deviceIndex: 0,
      stateDir: spec.stateDir,
      profile: null,
      profiles: [],
      faults,
      host: { netns: spec.netns },
    });
  }

  has(port: number): boolean {
    return !!this.spec.netdevs[port];
  }

  private init(): Promise<void> {
    this.ready ??= this.driver.init();
    return this.ready;
  }

  async load(port: number, modules: ChainModule[]): Promise<void> {
    await this.init();
    await this.driver.load({ port, target: 'host-xdp-native', hook: 'xdp-native', modules });
    this.running.add(port);
  }

  async rollback(port: number): Promise<void> {
    if (!this.running.has(port)) return;
    await this.driver.rollback({ scope: 'program', port }).catch(async (e: { code?: string }) => {
      if (e.code !== 'nothing_to_roll_back') throw e;
      await this.driver.detach(port);
      this.running.delete(port);
    });
  }

  async detach(port: number): Promise<void> {
    if (!this.running.has(port)) return;
    await this.driver.detach(port);
    this.running.delete(port);
  }

  async commit(port: number): Promise<void> {
    if (this.running.has(port)) await this.driver.commit(port);
  }

  runs(port: number): boolean {
    return this.running.has(port);
  }

  /** Vectors on the chain as the stage runs it, in the stage's namespace (KernelXdpDriver.runVectors). */
  runVectors(port: number, vectors: VectorRequest[]): Promise<VectorOutcome[]> {
    return this.driver.runVectors(port, vectors);
  }

  async probe(port: number, packets: number): Promise<number> {
    return this.spec.wire ? this.spec.wire(port, packets) : 0;
  }

  /** Counters of the ports whose chain runs in the stage, from its chain counter map. */
  async counters(): Promise<Map<number, ModuleCounters[]>> {
    const out = new Map<number, ModuleCounters[]>();
    if (!this.running.size) return out;
    for (const m of (await this.driver.counters()).modules) {
      if (!this.running.has(m.port)) continue;
      out.set(m.port, [...(out.get(m.port) ?? []), m]);
    }
    return out;
  }
}
