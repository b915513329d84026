import { hookOf, type Device, type FirmwareProfile, type Target } from '@ioplane/domain';
import { NOT_RUN, runVectors, type ObjectFacts, type VerifierProfile } from '@ioplane/compiler';
import { OpQueue } from '../abort.sleep';
import { DeviceError } from '../device.error';
import { devicePort, vectorSlot } from '../device.checks';
import {
  chainDigest,
  loadedModules,
  type ChainModule,
  type ChainState,
  type CommitResult,
  type DeviceCounters,
  type DeviceDriver,
  type DeviceInventory,
  type DevicePrograms,
  type DriverKind,
  type FlashImage,
  type FlashOptions,
  type FlashResult,
  type LoadRequest,
  type LoadResult,
  type ModuleCounters,
  type RollbackResult,
  type VectorOutcome,
  type VectorRequest,
} from '../device.driver';
import type { FaultBook } from '../fault.book';
import { FirmwareSlots } from '../firmware.slots';
import { withObjectFile } from './object.facts';
import { KernelStage, type StageSpec } from './emulated.stage';
import { FlowStage } from './flow.stage';
import { judgeChain } from './chain.judge';
import { TrafficModel } from './traffic.model';

export interface EmulatedDeviceOptions {
  device: Device;
  /** A firmware profile, or the built-in host profile (no flash) for an emulated host CPU. */
  profile: FirmwareProfile | (VerifierProfile & { throughput?: FirmwareProfile['throughput'] });
  profiles: readonly FirmwareProfile[];
  faults: FaultBook;
  timeScale?: number;
  /** Run vectors through BPF_PROG_TEST_RUN on the real bytecode (kernel available). */
  kernelVectors?: boolean;
  /** Why there is no kernel for vectors (the agent's mode reason), for the not-run result. */
  kernelReason?: string | null;
  /** Mean packet size for emulated byte counters. */
  meanPacketBytes?: number;
  /** Where the device's firmware slots keep their image files. */
  firmwareDir?: string;
  /** The device's stage in a packet-true fleet: accepted XDP chains run there in the kernel. */
  stage?: StageSpec;
  /**
   * Another agent device runs the host XDP of this card's netdevs (its hostXdpDeviceId, on the
   * real kernel where there is one), so this one offers only the card's hardware hooks.
   */
  hostXdpElsewhere?: boolean;
}

interface EmulatedChain {
  state: ChainState;
  modules: ChainModule[];
  facts: ObjectFacts[];
  mapBytes: number;
  unhealthy: boolean;
}

interface PortState {
  current: EmulatedChain | null;
  previous: EmulatedChain | null;
}

let nextProgId = 100_000;

function isFirmwareProfile(p: EmulatedDeviceOptions['profile']): p is FirmwareProfile {
  return 'flash' in p;
}

/**
 * A device emulated inside the agent. It judges the real bytecode with the profile's offload
 * verifier (refusing exactly what the profile refuses), keeps `programSlotsPerPort` modules per
 * port, models A/B firmware with the profile's timings, and moves counters at the modules' pps.
 */
export class EmulatedDevice implements DeviceDriver {
  readonly device: Device;
  private profile: EmulatedDeviceOptions['profile'];
  private readonly firmware: FirmwareSlots | null;
  private readonly ports: PortState[];
  private readonly model: TrafficModel;
  private readonly queue = new OpQueue();
  private readonly timeScale: number;
  private readonly stage: KernelStage | null;
  /** Flow targets on a stage: the match-action rules carry the real packets there. */
  private readonly flow: FlowStage | null;
  private hung = false;

  constructor(
    readonly kind: Exclude<DriverKind, 'kernel-xdp'>,
    private readonly o: EmulatedDeviceOptions,
  ) {
    this.stage = o.stage ? new KernelStage(o.stage, o.device, o.faults) : null;
    this.flow = o.stage ? new FlowStage(o.stage, () => this.profile.limits.flowRules) : null;
    this.device = o.device;
    this.profile = o.profile;
    this.timeScale = o.timeScale ?? 1;
    this.model = new TrafficModel(o.meanPacketBytes ?? 700);
    this.ports = Array.from({ length: Math.max(1, o.profile.limits.ports) }, () => ({ current: null, previous: null }));
    this.firmware = isFirmwareProfile(o.profile)
      ? new FirmwareSlots({
          deviceId: o.device.id,
          slotDir: o.firmwareDir,
          profile: o.profile,
          profiles: o.profiles,
          faults: o.faults,
          timeScale: this.timeScale,
          onActivated: (p) => this.activated(p),
        })
      : null;
  }

  async init(): Promise<void> {
    // Which engine holds flow rules on this kernel, found once at start and reported in the inventory
    // (also for a card whose current flavour has no flow target: a flash may give it one).
    await this.flow?.init();
  }
  async close(): Promise<void> {}

  /** The profile's targets this device runs: its host XDP ones stay with the profile unless another device runs them. */
  private targets(): Target[] {
    return this.profile.targets.filter((t) => !(this.o.hostXdpElsewhere && t.startsWith('host-')));
  }

  inventory(): DeviceInventory {
    return {
      device: this.device,
      driver: this.kind,
      profileId: this.profile.id,
      targets: this.targets(),
      ports: this.ports.length,
      programSlotsPerPort: this.profile.limits.programSlotsPerPort,
      // What load() enforces per hook; flow targets hold rules, bounded by the offload verifier instead.
      hookSlots: Object.fromEntries(
        this.targets()
          .filter((t) => !t.endsWith('flow-offload'))
          .map((t) => [hookOf(this.device.kind, t), this.profile.limits.programSlotsPerPort]),
      ),
      firmware: this.firmware?.state() ?? null,
      ...(this.flow?.rulesEngine() ? { flowEngine: this.flow.rulesEngine()! } : {}),
    };
  }

  private runState(): DevicePrograms['state'] {
    if (this.hung) return 'hung';
    return this.firmware?.updating ? 'updating' : 'ready';
  }

  /** Programs stop while the device is re-imaged when the profile says it is unusable during update. */
  private offline(): boolean {
    return this.hung || (!!this.firmware?.updating && !this.firmware.profile.flash.capabilities.usableDuringUpdate);
  }

  async programs(): Promise<DevicePrograms> {
    return {
      deviceId: this.device.id,
      driver: this.kind,
      state: this.runState(),
      ports: this.ports.map((p, port) => ({
        port,
        interface: null,
        current: p.current ? { ...p.current.state } : null,
        previous: p.previous ? { ...p.previous.state } : null,
        unhealthy: p.current?.unhealthy ?? false,
        ...(this.flow?.engine(port) ? { flowEngine: this.flow.engine(port) } : {}),
      })),
      foreign: [],
      firmware: this.firmware?.state() ?? null,
    };
  }

  private checkPort(port: number): PortState {
    return devicePort(this.device.id, this.ports, port);
  }

  private checkUsable(): void {
    if (this.hung) throw new DeviceError('device_hung', `${this.device.id} does not respond`);
    if (this.offline()) throw new DeviceError('device_busy', `${this.device.id} is being flashed and is not usable during the update`);
  }

  async load(req: LoadRequest): Promise<LoadResult> {
    return this.queue.run(async () => {
      const port = this.checkPort(req.port);
      this.checkUsable();
      const digest = chainDigest(req.target, req.modules);
      if (port.current?.state.chainDigest === digest) {
        return {
          status: 'unchanged',
          deviceId: this.device.id,
          port: req.port,
          current: { ...port.current.state },
          previous: port.previous ? { ...port.previous.state } : null,
        };
      }
      const { facts, mapBytes } = await judgeChain(req, {
        deviceId: this.device.id,
        profile: this.profile,
        targets: this.targets(),
        hostXdpElsewhere: this.o.hostXdpElsewhere,
      });
      const others = this.ports.reduce((s, p, i) => s + (i === req.port ? 0 : (p.current?.mapBytes ?? 0)), 0);
      if (others + mapBytes > this.profile.limits.mapMemoryBytes) {
        throw new DeviceError(
          'map_memory',
          `maps need ${others + mapBytes} B on ${this.device.id}; the profile allows ${this.profile.limits.mapMemoryBytes} B`,
          'modules',
        );
      }
      if (this.o.faults.fire(this.device.id, 'hang')) {
        throw new DeviceError(
          'device_hung',
          `${this.device.id} stopped responding while loading (injected fault); the previous chain still runs`,
        );
      }
      // The verifier accepted it: where the fleet gives the device a stage, the chain really runs there.
      const xdpStage = !!this.stage?.has(req.port) && (req.target === 'nic-xdp-offload' || req.target === 'dpu-arm-xdp');
      if (xdpStage) await this.stage!.load(req.port, req.modules);
      const flowStage = !!this.flow?.has(req.port) && (req.target === 'nic-flow-offload' || req.target === 'dpu-flow-offload');
      if (flowStage) await this.flow!.load(req.port, req.modules);
      const ids = req.modules.map((m) => ({ id: nextProgId++, tag: m.digest.slice(0, 16) }));
      const chain: EmulatedChain = {
        state: {
          chainDigest: digest,
          target: req.target,
          mode: req.target.endsWith('offload') ? 'offload' : 'emulated',
          modules: loadedModules(req.modules, ids),
          rootProgId: ids.length === 1 ? ids[0].id : nextProgId++,
          rootTag: ids.length === 1 ? ids[0].tag : digest.slice(0, 16),
          loadedAt: new Date().toISOString(),
          committed: false,
        },
        modules: req.modules,
        facts,
        mapBytes,
        unhealthy: this.o.faults.fire(this.device.id, 'healthCheckFails'),
      };
      this.model.sample(this.ports, this.offline());
      const status = port.current ? 'replaced' : 'loaded';
      port.previous = port.current;
      port.current = chain;
      return {
        status,
        deviceId: this.device.id,
        port: req.port,
        current: { ...chain.state },
        previous: port.previous ? { ...port.previous.state } : null,
      };
    });
  }

  async detach(portNo: number): Promise<{ status: 'detached' | 'not_attached'; deviceId: string; port: number }> {
    return this.queue.run(async () => {
      const port = this.checkPort(portNo);
      this.model.sample(this.ports, this.offline());
      const had = port.current !== null;
      await this.stage?.detach(portNo);
      await this.flow?.detach(portNo);
      port.current = null;
      port.previous = null;
      return { status: had ? 'detached' : 'not_attached', deviceId: this.device.id, port: portNo };
    });
  }

  async commit(portNo: number): Promise<CommitResult> {
    return this.queue.run(async () => {
      const port = this.checkPort(portNo);
      if (!port.current) return { status: 'nothing_to_commit', deviceId: this.device.id, port: portNo, current: null };
      await this.stage?.commit(portNo);
      await this.flow?.commit(portNo);
      port.current.state.committed = true;
      port.previous = null;
      return { status: 'committed', deviceId: this.device.id, port: portNo, current: { ...port.current.state } };
    });
  }

  async flash(image: FlashImage, opts: FlashOptions = {}): Promise<FlashResult> {
    if (!this.firmware) throw new DeviceError('flash_unsupported', `${this.device.id} has no firmware ioplane can flash`, 'image');
    return this.queue.run(async () => {
      if (this.hung) throw new DeviceError('device_hung', `${this.device.id} does not respond`);
      return this.firmware!.flash(image, opts);
    });
  }

  async rollback(req: { scope: 'program' | 'firmware'; port: number; signal?: AbortSignal }): Promise<RollbackResult> {
    return this.queue.run(async () => {
      if (req.scope === 'firmware') {
        if (!this.firmware) throw new DeviceError('flash_unsupported', `${this.device.id} has no firmware slots`, 'scope');
        const firmware = await this.firmware.rollback(req.signal);
        this.hung = false;
        return { status: 'rolled_back', scope: 'firmware', deviceId: this.device.id, firmware, current: null };
      }
      const port = this.checkPort(req.port);
      if (!port.previous)
        throw new DeviceError(
          'nothing_to_roll_back',
          `port ${req.port} of ${this.device.id} keeps no previous chain (committed or never replaced)`,
          'port',
        );
      this.model.sample(this.ports, this.offline());
      await this.stage?.rollback(req.port);
      await this.flow?.rollback(req.port);
      port.current = port.previous;
      port.previous = null;
      return { status: 'rolled_back', scope: 'program', deviceId: this.device.id, port: req.port, current: { ...port.current.state } };
    });
  }

  private activated(p: FirmwareProfile): void {
    // Loading other firmware reloads the driver: whatever ran on the device is gone.
    this.model.sample(this.ports, this.offline());
    this.profile = p;
    for (const port of this.ports) {
      port.current = null;
      port.previous = null;
    }
    this.flow?.reset();
    this.hung = false;
  }

  async runVectors(portNo: number, vectors: VectorRequest[]): Promise<VectorOutcome[]> {
    const port = this.checkPort(portNo);
    const chain = port.current;
    if (!chain) throw new DeviceError('not_found', `nothing is loaded on port ${portNo} of ${this.device.id}`, 'port');
    this.checkUsable();
    const out: VectorOutcome[] = [];
    for (const [i, v] of vectors.entries()) {
      const idx = vectorSlot(chain.modules, v, i);
      const m = chain.modules[idx];
      if (chain.unhealthy) {
        out.push({
          module: m.name,
          emulated: true,
          name: v.name,
          passed: false,
          expectedVerdict: v.expectVerdict,
          actualVerdict: 'XDP_ABORTED',
          nsPerPacket: 0,
          reason: `vector "${v.name}": the program crashed on the device (injected fault)`,
        });
        continue;
      }
      // The stage's kernel runs the chain: the vector runs there, on the module as deployed.
      if (this.stage?.runs(portNo) && (chain.state.target === 'nic-xdp-offload' || chain.state.target === 'dpu-arm-xdp')) {
        const [r] = await this.stage.runVectors(portNo, [{ ...v, module: m.name }]);
        out.push({ ...r, module: m.name, emulated: false });
      } else if (this.o.kernelVectors) {
        // No stage runs it (a flow target's rules, or no packet-true fleet): a copy of the XDP program, typed as such (libbpf cannot type the chain epilogue's section).
        const [r] = await withObjectFile(m.object, (path) =>
          runVectors(
            path,
            [{ name: v.name, packet: v.packet, expectVerdict: v.expectVerdict, expectOutput: v.expectOutput, repeat: v.repeat }],
            { program: m.program, type: 'xdp', timingRepeat: 0 },
          ),
        );
        out.push({ ...r, module: m.name, emulated: false });
      } else {
        out.push({
          module: m.name,
          emulated: true,
          notRun: true,
          name: v.name,
          passed: false,
          expectedVerdict: v.expectVerdict,
          actualVerdict: NOT_RUN,
          nsPerPacket: 0,
          expectedOutputHex: v.expectOutput?.toString('hex'),
          reason: `not run: ${this.o.kernelReason ?? 'no kernel on this agent to run BPF_PROG_TEST_RUN'}`,
        });
      }
    }
    return out;
  }

  /**
   * Scenario traffic: from now on `module` counts `pps` wherever it runs on this device (also
   * after it is loaded here later); null returns it to the pps it was loaded with.
   */
  setTraffic(module: string, pps: number | null): void {
    this.model.sample(this.ports, this.offline());
    this.model.setTraffic(module, pps);
  }

  async probe(port: number, packets: number): Promise<{ deviceId: string; port: number; sent: number }> {
    if (this.stage?.has(port)) return { deviceId: this.device.id, port, sent: await this.stage.probe(port, packets) };
    // Emulated counters follow the modules' pps; the probe has nothing to send.
    return { deviceId: this.device.id, port, sent: 0 };
  }

  async counters(): Promise<DeviceCounters> {
    this.model.sample(this.ports, this.offline());
    const onHost = (t: Target): boolean => t.startsWith('host-');
    const modules: ModuleCounters[] = [];
    const staged = (await this.stage?.counters()) ?? new Map<number, ModuleCounters[]>();
    for (const [p, c] of (await this.flow?.counters()) ?? []) staged.set(p, c);
    for (const [portNo, port] of this.ports.entries()) {
      // A chain running in the stage is counted by its chain counter map, never modeled.
      const real = staged.get(portNo);
      if (real) {
        modules.push(...real);
        continue;
      }
      for (const m of port.current?.modules ?? []) {
        const t = this.model.tally(portNo, m.name);
        modules.push({
          module: m.name,
          port: portNo,
          packets: t.packets,
          bytes: t.bytes,
          drops: t.drops,
          cpuNs: onHost(port.current!.state.target) ? Math.round(t.cpuNs) : null,
          source: 'emulated',
        });
      }
    }
    return { deviceId: this.device.id, at: new Date().toISOString(), modules };
  }
}
