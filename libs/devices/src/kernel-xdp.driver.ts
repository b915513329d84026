import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Device, Target } from '@ioplane/domain';
import { runVectors } from '@ioplane/compiler';
import { linkedProgId, pinnedProg } from './kernel/bpftool.run';
import { OpQueue } from './abort.sleep';
import { DeviceError } from './device.error';
import { devicePort, vectorSlot } from './device.checks';
import {
  chainDigest,
  loadedModules,
  type ChainState,
  type ChainSupport,
  type CommitResult,
  type DeviceCounters,
  type DeviceDriver,
  type DeviceInventory,
  type DevicePrograms,
  type FlashImage,
  type FlashOptions,
  type FlashResult,
  type HookCounters,
  type LoadRequest,
  type LoadResult,
  type ModuleCounters,
  type PortInterface,
  type RollbackResult,
  type VectorOutcome,
  type VectorRequest,
  type XdpHook,
} from './device.driver';
import { FirmwareSlots } from './firmware.slots';
import { portCounters } from './kernel/chain.counters';
import { chainMechanismFor, slotsPerHook } from './kernel/chain.loader';
import { stageChain, swapRoot } from './kernel/chain.stage';
import { chainMechanism } from './kernel/chain.probe';
import { chainAsRun } from './kernel/chain.readback';
import { foreignPrograms } from './kernel/foreign.programs';
import { readDeployedHook, runDeployedVector } from './kernel/chain.vectors';
import { attachRoot, runningChain } from './kernel/hook.attach';
import { bpffsRoot, hostTargets, type KernelXdpOptions } from './kernel/kernel-xdp.options';
import { checkLoadRequest } from './kernel/load.request';
import { sendProbe } from './kernel/probe.traffic';
import { ensureInterface, linksIn, linuxName, portInterface } from './kernel/netns.setup';
import { PortPaths } from './kernel/port.paths';
import { xdpctl } from './kernel/xdpctl.tool';

export { bpffsRoot, hostTargets } from './kernel/kernel-xdp.options';
export type { HostPorts, KernelXdpOptions } from './kernel/kernel-xdp.options';

interface PortMeta {
  current: ChainState | null;
  previous: ChainState | null;
}

/**
 * Host XDP on a real kernel. Each port is a veth end inside the machine's namespace. Every chain
 * is loaded whole into its own bpffs folder; the hook holds one pinned bpf_link, and a chain
 * change is one BPF_LINK_UPDATE with BPF_F_REPLACE (compare-and-swap on the old root), so no
 * packet ever meets an empty hook or a half-built chain. Several modules run under a root that
 * tail-calls a new PROG_ARRAY (each module's epilogue calls the next slot), or under a freplace
 * dispatcher where the kernel allows EXT programs; a lone module without the epilogue is the root
 * itself. The previous chain stays pinned until commit, so rollback is one more atomic swap.
 */
export class KernelXdpDriver implements DeviceDriver {
  readonly kind = 'kernel-xdp' as const;
  readonly device: Device;
  private readonly paths: PortPaths;
  private readonly meta: PortMeta[];
  private readonly queue = new OpQueue();
  private readonly firmware: FirmwareSlots | null;

  constructor(private readonly o: KernelXdpOptions) {
    this.device = o.device;
    this.paths = new PortPaths(o.agentId, o.device.id, o.stateDir);
    this.meta = Array.from({ length: Math.max(1, o.profile?.limits.ports ?? (o.host ? o.device.interfaces.length : 1)) }, () => ({
      current: null,
      previous: null,
    }));
    this.firmware =
      o.profile && o.profile.flash.tool !== 'none'
        ? new FirmwareSlots({
            deviceId: o.device.id,
            profile: o.profile,
            profiles: o.profiles,
            faults: o.faults,
            timeScale: o.timeScale ?? 1,
            onActivated: () => undefined,
          })
        : null;
  }

  private iface(port: number): PortInterface {
    if (this.o.host) {
      const maas = this.device.interfaces[port];
      if (!maas) throw new DeviceError('unknown_interface', `port ${port} of ${this.device.id} has no MAAS interface`, 'port');
      return { name: linuxName(maas), netns: this.o.host.netns ?? '', address: '', peerName: '', peerNetns: '', peerAddress: '' };
    }
    return portInterface(this.o.agentId, this.o.deviceIndex, this.device.id, port);
  }

  /** Host mode: the port's netdev must exist; scratch mode: the driver makes it. */
  private async ensurePort(i: PortInterface): Promise<void> {
    if (!this.o.host) return ensureInterface(i);
    const have = (await linksIn(this.o.host.netns)).map((l) => l.ifname);
    if (!have.includes(i.name))
      throw new DeviceError(
        'unknown_interface',
        `interface ${i.name} is not on this host (it has ${have.join(', ') || 'none'})`,
        'interface',
        { interface: i.name },
      );
  }

  private async saveMeta(port: number): Promise<void> {
    const file = this.paths.metaFile(port);
    await fsp.writeFile(`${file}.tmp`, JSON.stringify(this.meta[port], null, 2));
    await fsp.rename(`${file}.tmp`, file);
  }

  private linkProgId(port: number): Promise<number | null> {
    return linkedProgId(this.paths.linkPin(port));
  }

  /** Reads what a previous agent left pinned: reports it, detaches nothing. */
  async init(): Promise<void> {
    await fsp.mkdir(join(this.o.stateDir, 'objects'), { recursive: true });
    await fsp.mkdir(bpffsRoot(this.o.agentId), { recursive: true });
    this.support = await chainMechanism(this.o.stateDir, bpffsRoot(this.o.agentId));
    for (let port = 0; port < this.meta.length; port++) {
      const saved = await fsp
        .readFile(this.paths.metaFile(port), 'utf8')
        .then((t) => JSON.parse(t) as PortMeta)
        .catch(() => null);
      const running = await this.linkProgId(port);
      if (running === null) {
        this.meta[port] = { current: null, previous: saved?.previous ?? null };
        continue;
      }
      const current =
        saved?.current && saved.current.rootProgId === running
          ? saved.current
          : await runningChain(join(this.paths.portDir(port), 'chains'), running, saved ?? {});
      const previous = saved?.previous && saved.previous.chainDigest !== current?.chainDigest ? saved.previous : null;
      this.meta[port] = { current: current ? { ...current, rediscovered: true } : null, previous };
    }
  }

  private support: ChainSupport = 'none';

  async probe(port: number, packets: number): Promise<{ deviceId: string; port: number; sent: number }> {
    this.checkPort(port);
    const i = this.iface(port);
    await this.ensurePort(i);
    if (this.o.host) {
      // A real host has no wire the agent can send from: its counters move under live traffic only.
      const sent = this.o.host.wire ? await this.o.host.wire(i.name, packets) : 0;
      return { deviceId: this.device.id, port, sent };
    }
    await sendProbe(i, packets);
    return { deviceId: this.device.id, port, sent: packets };
  }

  async close(): Promise<void> {}

  inventory(): DeviceInventory {
    const profile = this.firmware?.profile ?? this.o.profile;
    // Driver and generic XDP are the kernel's: their slots are what the kernel's chaining gives a hook,
    // not the NIC profile's figure (an estimate of libxdp's dispatcher).
    const slots = slotsPerHook(this.support);
    const targets = this.o.hostTargets ?? hostTargets(profile);
    return {
      device: this.device,
      driver: this.kind,
      profileId: profile?.id ?? 'host-kernel',
      targets,
      ports: this.meta.length,
      programSlotsPerPort: slots,
      chain: { mechanism: this.support, slotsPerHook: slots },
      hookSlots: Object.fromEntries(targets.map((t) => [t === 'host-xdp-native' ? 'xdp-native' : 'xdp-generic', slots])),
      firmware: this.firmware?.state() ?? null,
    };
  }

  async programs(): Promise<DevicePrograms> {
    const own: number[] = [];
    for (let p = 0; p < this.meta.length; p++) {
      const id = await this.linkProgId(p);
      if (id !== null) own.push(id);
    }
    const names = new Set(this.meta.flatMap((_, p) => (this.o.host && !this.device.interfaces[p] ? [] : [this.iface(p).name])));
    const foreign = await foreignPrograms({
      agentId: this.o.agentId,
      hostMode: !!this.o.host,
      netns: this.o.host ? this.o.host.netns : this.iface(0).netns,
      own,
      names,
    });
    return {
      deviceId: this.device.id,
      driver: this.kind,
      state: this.firmware?.updating ? 'updating' : 'ready',
      // What runs is read back from the kernel: a chain whose slots were reordered under the agent shows as such.
      ports: await Promise.all(
        this.meta.map(async (m, port) => ({
          port,
          interface: this.o.host && !this.device.interfaces[port] ? null : this.iface(port),
          current: m.current && (await chainAsRun(m.current, join(this.paths.chainDir(port, m.current.chainDigest), 'progs'))),
          previous: m.previous,
        })),
      ),
      foreign,
      firmware: this.firmware?.state() ?? null,
    };
  }

  private checkPort(port: number): PortMeta {
    return devicePort(this.device.id, this.meta, port);
  }

  async load(req: LoadRequest): Promise<LoadResult> {
    return this.queue.run(async () => {
      const meta = this.checkPort(req.port);
      if (this.firmware?.updating && !this.firmware.profile.flash.capabilities.usableDuringUpdate) {
        throw new DeviceError('device_busy', `${this.device.id} is being flashed and is not usable during the update`);
      }
      const inv = this.inventory();
      const iface = this.iface(req.port);
      if (
        this.o.host &&
        req.interface !== undefined &&
        req.interface !== iface.name &&
        req.interface !== this.device.interfaces[req.port]
      ) {
        throw new DeviceError(
          'unknown_interface',
          `interface ${req.interface} is not port ${req.port} of ${this.device.id} (that port is ${this.device.interfaces[req.port]})`,
          'interface',
          { interface: req.interface },
        );
      }
      const running = await this.linkProgId(req.port);
      checkLoadRequest(req, {
        targets: inv.targets,
        slots: inv.programSlotsPerPort,
        interfaceNames: [iface.name, ...(this.device.interfaces[req.port] ? [this.device.interfaces[req.port]] : [])],
        runningMode: running !== null ? meta.current?.mode : undefined,
      });
      const digest = chainDigest(req.target, req.modules);
      if (meta.current?.chainDigest === digest && running !== null && running === meta.current.rootProgId) {
        return { status: 'unchanged', deviceId: this.device.id, port: req.port, current: meta.current, previous: meta.previous };
      }
      const mechanism = chainMechanismFor(this.support, req.modules);
      req.signal?.throwIfAborted?.();
      await this.ensurePort(iface);
      const staged = await stageChain({
        paths: this.paths,
        port: req.port,
        digest,
        previous: meta.previous,
        mechanism,
        stateDir: this.o.stateDir,
        modules: req.modules,
      });
      const { dir, ids, rootId, rootTag } = staged;

      let mode: ChainState['mode'] = meta.current?.mode ?? 'native';
      try {
        if (running === null) {
          mode = await this.attach(req.port, iface, join(dir, 'root'), req.target, req.hook);
        } else {
          await swapRoot(
            this.paths,
            req.port,
            join(dir, 'root'),
            { chainDigest: meta.current?.chainDigest ?? null, progId: running },
            { swap: 'atomic replace', left: 'old' },
          );
        }
      } catch (e) {
        if (!staged.reused) await fsp.rm(dir, { recursive: true, force: true });
        throw e;
      }

      const next: ChainState = {
        chainDigest: digest,
        target: req.target,
        mode,
        mechanism,
        modules: loadedModules(req.modules, ids),
        rootProgId: rootId,
        rootTag,
        loadedAt: new Date().toISOString(),
        committed: false,
      };
      const dropped =
        meta.previous && meta.previous.chainDigest !== digest && meta.previous.chainDigest !== meta.current?.chainDigest
          ? meta.previous
          : null;
      if (dropped) await fsp.rm(this.paths.chainDir(req.port, dropped.chainDigest), { recursive: true, force: true });
      const status = running === null ? 'loaded' : 'replaced';
      this.meta[req.port] = { current: next, previous: running === null ? null : meta.current };
      await this.saveMeta(req.port);
      return { status, deviceId: this.device.id, port: req.port, current: next, previous: this.meta[req.port].previous };
    });
  }

  /** First attach of a port: the hook the plan named, or native where the driver supports it, else generic. */
  private async attach(port: number, iface: PortInterface, rootPin: string, target: Target, hook?: XdpHook): Promise<ChainState['mode']> {
    await fsp.mkdir(this.paths.portDir(port), { recursive: true });
    return attachRoot(iface, rootPin, this.paths.linkPin(port), target, hook);
  }

  async detach(port: number): Promise<{ status: 'detached' | 'not_attached'; deviceId: string; port: number }> {
    return this.queue.run(async () => {
      this.checkPort(port);
      const had = existsSync(this.paths.linkPin(port));
      if (had) {
        const r = await xdpctl(['detach', this.paths.linkPin(port)]);
        if (!r.ok) throw new DeviceError('kernel_failed', `detach failed: ${r.failure.error}`);
      }
      // Persistent maps stay: a later load of the module picks its state up again.
      await fsp.rm(join(this.paths.portDir(port), 'chains'), { recursive: true, force: true });
      this.meta[port] = { current: null, previous: null };
      await this.saveMeta(port);
      return { status: had ? 'detached' : 'not_attached', deviceId: this.device.id, port };
    });
  }

  async commit(port: number): Promise<CommitResult> {
    return this.queue.run(async () => {
      const meta = this.checkPort(port);
      if (!meta.current) return { status: 'nothing_to_commit', deviceId: this.device.id, port, current: null };
      if (meta.previous) await fsp.rm(this.paths.chainDir(port, meta.previous.chainDigest), { recursive: true, force: true });
      this.meta[port] = { current: { ...meta.current, committed: true }, previous: null };
      await this.saveMeta(port);
      return { status: 'committed', deviceId: this.device.id, port, current: this.meta[port].current };
    });
  }

  async flash(image: FlashImage, opts: FlashOptions = {}): Promise<FlashResult> {
    if (!this.firmware) throw new DeviceError('flash_unsupported', `${this.device.id} has no firmware ioplane can flash`, 'image');
    return this.queue.run(() => this.firmware!.flash(image, opts));
  }

  async rollback(req: { scope: 'program' | 'firmware'; port: number; signal?: AbortSignal }): Promise<RollbackResult> {
    return this.queue.run(async () => {
      if (req.scope === 'firmware') {
        if (!this.firmware) throw new DeviceError('flash_unsupported', `${this.device.id} has no firmware slots`, 'scope');
        return {
          status: 'rolled_back',
          scope: 'firmware',
          deviceId: this.device.id,
          current: null,
          firmware: await this.firmware.rollback(req.signal),
        };
      }
      const meta = this.checkPort(req.port);
      if (!meta.previous || !meta.current)
        throw new DeviceError(
          'nothing_to_roll_back',
          `port ${req.port} of ${this.device.id} keeps no previous chain (committed or never replaced)`,
          'port',
        );
      await swapRoot(
        this.paths,
        req.port,
        join(this.paths.chainDir(req.port, meta.previous.chainDigest), 'root'),
        { chainDigest: meta.current.chainDigest, progId: meta.current.rootProgId },
        { swap: 'atomic swap back', left: 'current' },
      );
      await fsp.rm(this.paths.chainDir(req.port, meta.current.chainDigest), { recursive: true, force: true });
      this.meta[req.port] = { current: meta.previous, previous: null };
      await this.saveMeta(req.port);
      return { status: 'rolled_back', scope: 'program', deviceId: this.device.id, port: req.port, current: meta.previous };
    });
  }

  /**
   * Runs each vector on the module as deployed: its live program in the hook's running chain (see
   * runDeployedVector), in this port's namespace. Only a freplace dispatcher's slots, which the
   * kernel cannot test-run alone, are run on a fresh copy of the module instead (`deployed` absent).
   */
  async runVectors(port: number, vectors: VectorRequest[]): Promise<VectorOutcome[]> {
    return this.queue.run(async () => {
      const chain = this.checkPort(port).current;
      if (!chain || chain.modules.length === 0)
        throw new DeviceError('not_found', `nothing ioplane knows is loaded on port ${port} of ${this.device.id}`, 'port');
      const iface = this.iface(port);
      const target = { chain, linkPin: this.paths.linkPin(port), netns: iface.netns || null, ifname: iface.name };
      // Read once for the batch: the vectors run back to back under this port's queue, so nothing of ours changes the hook between them.
      const hook = chain.mechanism === 'freplace' ? null : await readDeployedHook(target);
      const out: VectorOutcome[] = [];
      for (const [i, v] of vectors.entries()) {
        const idx = vectorSlot(chain.modules, v, i);
        const m = chain.modules[idx];
        const r =
          chain.mechanism === 'freplace'
            ? (await runVectors(this.paths.objectFile(m.digest), [v], { program: m.program, type: 'xdp', timingRepeat: 0 }))[0]
            : await runDeployedVector(target, idx, v, hook ?? undefined);
        out.push({ ...r, module: m.name, emulated: false });
      }
      return out;
    });
  }

  async counters(): Promise<DeviceCounters> {
    const modules: ModuleCounters[] = [];
    const hooks: HookCounters[] = [];
    const links = await linksIn(this.o.host ? this.o.host.netns : this.iface(0).netns);
    for (const [port, meta] of this.meta.entries()) {
      if (!meta.current) continue;
      const dir = this.paths.chainDir(port, meta.current.chainDigest);
      const c = await portCounters({
        port,
        iface: this.iface(port),
        chain: meta.current,
        dir,
        hookStatsPin: this.paths.hookStatsPin(port),
        links,
        progStats: pinnedProg,
      });
      modules.push(...c.modules);
      if (c.hook) hooks.push(c.hook);
    }
    return { deviceId: this.device.id, at: new Date().toISOString(), modules, ...(hooks.length ? { hooks } : {}) };
  }
}
