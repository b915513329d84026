import { createHash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Device, FirmwareProfile, Target } from '@ioplane/domain';
import { BPFFS_ROOT, extractVerifierErrors, runVectors } from '@ioplane/compiler';
import { bpftool } from './kernel/bpftool.run';
import { OpQueue } from './abort.sleep';
import { DeviceError } from './device.error';
import {
  chainDigest, loadedModules, type ChainModule, type ChainState, type CommitResult, type DeviceCounters, type DeviceDriver, type DeviceInventory,
  type DevicePrograms, type FlashImage, type FlashOptions, type FlashResult, type ForeignProgram, type LoadRequest, type LoadResult,
  type ModuleCounters, type PortInterface, type RollbackResult, type VectorOutcome, type VectorRequest,
} from './device.driver';
import type { FaultBook } from './fault.book';
import { FirmwareSlots } from './firmware.slots';
import { chainsSupported } from './kernel/chain.probe';
import { sendProbe } from './kernel/probe.traffic';
import { buildDispatcher } from './kernel/dispatcher.source';
import { readMapTotals, readStats } from './kernel/map.counters';
import { ensureInterface, linksIn, netnsPath, portInterface } from './kernel/netns.setup';
import { xdpctl, type XdpctlFailure } from './kernel/xdpctl.tool';

export interface KernelXdpOptions {
  agentId: string;
  device: Device;
  /** Position of the device on its machine; keeps port subnets apart. */
  deviceIndex: number;
  /** Chain metadata and module objects; bpffs cannot hold regular files. */
  stateDir: string;
  /** Profile of the NIC whose host XDP this is (its firmware is emulated); null for the host CPU. */
  profile: FirmwareProfile | null;
  profiles: readonly FirmwareProfile[];
  faults: FaultBook;
  timeScale?: number;
}

interface PortMeta {
  current: ChainState | null;
  previous: ChainState | null;
}

const HOST_TARGETS: Target[] = ['host-xdp-native', 'host-xdp-generic'];
const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const MAP_NAME = /^[A-Za-z0-9_]{1,64}$/;

export function bpffsRoot(agentId: string): string {
  return join(BPFFS_ROOT, 'ioplane', agentId.replace(/[^A-Za-z0-9_-]/g, '_'));
}

/**
 * Host XDP on a real kernel. Each port is a veth end inside the machine's namespace. Every chain
 * is loaded whole into its own bpffs folder; the hook holds one pinned bpf_link, and a chain
 * change is one BPF_LINK_UPDATE with BPF_F_REPLACE (compare-and-swap on the old root), so no
 * packet ever meets an empty hook. A single module is the root itself; several run under a
 * generated dispatcher whose slots they freplace. The previous chain stays pinned until commit.
 */
export class KernelXdpDriver implements DeviceDriver {
  readonly kind = 'kernel-xdp' as const;
  readonly device: Device;
  private readonly root: string;
  private readonly meta: PortMeta[];
  private readonly queue = new OpQueue();
  private readonly firmware: FirmwareSlots | null;

  constructor(private readonly o: KernelXdpOptions) {
    this.device = o.device;
    this.root = join(bpffsRoot(o.agentId), createHash('sha256').update(o.device.id).digest('hex').slice(0, 12));
    this.meta = Array.from({ length: Math.max(1, o.profile?.limits.ports ?? 1) }, () => ({ current: null, previous: null }));
    this.firmware =
      o.profile && o.profile.flash.tool !== 'none'
        ? new FirmwareSlots({ deviceId: o.device.id, profile: o.profile, profiles: o.profiles, faults: o.faults, timeScale: o.timeScale ?? 1, onActivated: () => undefined })
        : null;
  }

  private portDir(port: number): string {
    return join(this.root, `p${port}`);
  }
  private linkPin(port: number): string {
    return join(this.portDir(port), 'link');
  }
  private chainDir(port: number, digest: string): string {
    return join(this.portDir(port), 'chains', digest.slice(0, 32));
  }
  private metaFile(port: number): string {
    return join(this.o.stateDir, `${this.root.split('/').pop()}-p${port}.json`);
  }
  private objectFile(digest: string): string {
    return join(this.o.stateDir, 'objects', `${digest}.o`);
  }
  private iface(port: number): PortInterface {
    return portInterface(this.o.agentId, this.o.deviceIndex, this.device.id, port);
  }

  private async saveMeta(port: number): Promise<void> {
    const file = this.metaFile(port);
    await fsp.writeFile(`${file}.tmp`, JSON.stringify(this.meta[port], null, 2));
    await fsp.rename(`${file}.tmp`, file);
  }

  private async progIdOf(pin: string): Promise<{ id: number; tag: string; runCnt: number; runTimeNs: number } | null> {
    if (!existsSync(pin)) return null;
    const r = await bpftool(['prog', 'show', 'pinned', pin, '-j']);
    if (r.code !== 0) return null;
    const j = JSON.parse(r.stdout) as { id: number; tag: string; run_cnt?: number; run_time_ns?: number };
    return { id: j.id, tag: j.tag, runCnt: j.run_cnt ?? 0, runTimeNs: j.run_time_ns ?? 0 };
  }

  private async linkProgId(port: number): Promise<number | null> {
    if (!existsSync(this.linkPin(port))) return null;
    const r = await bpftool(['link', 'show', 'pinned', this.linkPin(port), '-j']);
    if (r.code !== 0) return null;
    return (JSON.parse(r.stdout) as { prog_id?: number }).prog_id ?? null;
  }

  /** Reads what a previous agent left pinned: reports it, detaches nothing. */
  async init(): Promise<void> {
    await fsp.mkdir(join(this.o.stateDir, 'objects'), { recursive: true });
    await fsp.mkdir(bpffsRoot(this.o.agentId), { recursive: true });
    this.chains = await chainsSupported(this.o.stateDir, bpffsRoot(this.o.agentId));
    for (let port = 0; port < this.meta.length; port++) {
      const saved = await fsp.readFile(this.metaFile(port), 'utf8').then((t) => JSON.parse(t) as PortMeta).catch(() => null);
      const running = await this.linkProgId(port);
      if (running === null) {
        this.meta[port] = { current: null, previous: saved?.previous ?? null };
        continue;
      }
      let current = saved?.current ?? null;
      if (!current || current.rootProgId !== running) {
        const dirs = await fsp.readdir(join(this.portDir(port), 'chains')).catch(() => [] as string[]);
        let found: ChainState | null = null;
        for (const d of dirs) {
          const info = await this.progIdOf(join(this.portDir(port), 'chains', d, 'root'));
          if (info?.id !== running) continue;
          const known = [saved?.current, saved?.previous].find((c) => c?.chainDigest.startsWith(d));
          found = known
            ? { ...known, rootProgId: running }
            : { chainDigest: d, target: 'host-xdp-native', mode: 'native', modules: [], rootProgId: running, rootTag: info.tag, loadedAt: new Date(0).toISOString(), committed: false };
        }
        current = found;
      }
      const previous = saved?.previous && saved.previous.chainDigest !== current?.chainDigest ? saved.previous : null;
      this.meta[port] = { current: current ? { ...current, rediscovered: true } : null, previous };
    }
  }

  private chains = true;

  async probe(port: number, packets: number): Promise<{ deviceId: string; port: number; sent: number }> {
    this.checkPort(port);
    const i = this.iface(port);
    await ensureInterface(i);
    await sendProbe(i, packets);
    return { deviceId: this.device.id, port, sent: packets };
  }

  async close(): Promise<void> {}

  inventory(): DeviceInventory {
    const profile = this.firmware?.profile ?? this.o.profile;
    return {
      device: this.device,
      driver: this.kind,
      profileId: profile?.id ?? 'host-kernel',
      targets: profile ? profile.targets.filter((t) => HOST_TARGETS.includes(t)) : [...HOST_TARGETS],
      ports: this.meta.length,
      // Without freplace a hook runs one program: report the slot count the kernel really gives.
      programSlotsPerPort: this.chains ? (profile?.limits.programSlotsPerPort ?? 10) : 1,
      firmware: this.firmware?.state() ?? null,
    };
  }

  async programs(): Promise<DevicePrograms> {
    const foreign: ForeignProgram[] = [];
    const ours = new Set<number>();
    for (let p = 0; p < this.meta.length; p++) {
      const id = await this.linkProgId(p);
      if (id !== null) ours.add(id);
    }
    const names = new Set(this.meta.map((_, p) => this.iface(p).name));
    for (const l of await linksIn(this.iface(0).netns)) {
      // Another device of this machine shares the namespace; its interfaces are not ours to judge.
      if (!names.has(l.ifname) && /^x[0-9a-f]{6}p\d+$/.test(l.ifname)) continue;
      for (const prog of l.progs) if (!ours.has(prog.id)) foreign.push({ interface: l.ifname, progId: prog.id, name: prog.name, tag: prog.tag, mode: prog.mode });
    }
    return {
      deviceId: this.device.id,
      driver: this.kind,
      state: this.firmware?.updating ? 'updating' : 'ready',
      ports: this.meta.map((m, port) => ({ port, interface: this.iface(port), current: m.current, previous: m.previous })),
      foreign,
      firmware: this.firmware?.state() ?? null,
    };
  }

  private checkPort(port: number): PortMeta {
    if (!Number.isInteger(port) || port < 0 || port >= this.meta.length) {
      throw new DeviceError('port_out_of_range', `port ${port} does not exist on ${this.device.id} (ports 0-${this.meta.length - 1})`, 'port');
    }
    return this.meta[port];
  }

  private refusal(f: XdpctlFailure, modules: ChainModule[]): DeviceError {
    const m = /module (\d+) \(/.exec(f.stderr);
    const i = m ? Number(m[1]) : 0;
    if (f.error === 'map_reuse') return new DeviceError('map_incompatible', `a persistent map cannot be reused: ${f.detail}`, `modules[${i}].persistentMaps`);
    if (f.error === 'program_not_found') return new DeviceError('kernel_refused', `no program ${f.detail} in module ${modules[i]?.name}`, `modules[${i}].program`);
    if (modules.length > 1 && f.errno === 1 && (f.error === 'load_module' || f.error === 'freplace')) {
      return new DeviceError('chain_unsupported', 'this kernel refuses BPF_PROG_TYPE_EXT (freplace), which chains of several modules need; load one module per port', 'modules');
    }
    if (f.error === 'verifier' || f.error === 'load_module') {
      const log = extractVerifierErrors(f.stderr).filter((l) => !/^module \d+ \(/.test(l));
      return new DeviceError('kernel_refused', `the kernel refused module ${modules[i]?.name}: ${log.join(' | ')}`, `modules[${i}]`, log);
    }
    return new DeviceError('kernel_failed', `iop-xdpctl ${f.error} ${f.detail} (errno ${f.errno}): ${f.stderr.trim().split('\n').slice(-2).join(' | ')}`);
  }

  async load(req: LoadRequest): Promise<LoadResult> {
    return this.queue.run(async () => {
      const meta = this.checkPort(req.port);
      if (this.firmware?.updating && !this.firmware.profile.flash.capabilities.usableDuringUpdate) {
        throw new DeviceError('device_busy', `${this.device.id} is being flashed and is not usable during the update`);
      }
      const inv = this.inventory();
      if (!inv.targets.includes(req.target)) throw new DeviceError('unsupported_target', `${this.device.id} offers ${inv.targets.join(', ')}, not ${req.target}`, 'target');
      if (req.modules.length > inv.programSlotsPerPort) {
        throw new DeviceError('slot_limit', `at most ${inv.programSlotsPerPort} modules per port; the chain has ${req.modules.length}`, 'modules');
      }
      for (const [i, m] of req.modules.entries()) {
        if (!NAME.test(m.name)) throw new DeviceError('bad_object', `module name ${m.name} must match ${NAME}`, `modules[${i}].name`);
        const bad = m.persistentMaps.findIndex((n) => !MAP_NAME.test(n));
        if (bad >= 0) throw new DeviceError('bad_object', `map name ${m.persistentMaps[bad]} must match ${MAP_NAME}`, `modules[${i}].persistentMaps[${bad}]`);
      }
      const digest = chainDigest(req.target, req.modules);
      const running = await this.linkProgId(req.port);
      if (meta.current?.chainDigest === digest && running !== null && running === meta.current.rootProgId) {
        return { status: 'unchanged', deviceId: this.device.id, port: req.port, current: meta.current, previous: meta.previous };
      }
      req.signal?.throwIfAborted?.();
      const iface = this.iface(req.port);
      await ensureInterface(iface);
      for (const m of req.modules) if (!existsSync(this.objectFile(m.digest))) await fsp.writeFile(this.objectFile(m.digest), m.object);

      const dir = this.chainDir(req.port, digest);
      const reusingPrevious = meta.previous?.chainDigest === digest && existsSync(join(dir, 'root'));
      let ids: { id: number | null; tag: string | null }[];
      let rootId: number;
      let rootTag: string;
      if (reusingPrevious) {
        ids = meta.previous!.modules.map((m) => ({ id: m.progId, tag: m.tag }));
        rootId = meta.previous!.rootProgId!;
        rootTag = meta.previous!.rootTag!;
      } else {
        await fsp.rm(dir, { recursive: true, force: true });
        await fsp.mkdir(dir, { recursive: true });
        const args = ['load-chain', dir, req.modules.length > 1 ? await buildDispatcher(join(this.o.stateDir, 'dispatchers'), req.modules.length) : '-'];
        for (const m of req.modules) {
          const mapsDir = join(this.portDir(req.port), 'maps', m.name);
          await fsp.mkdir(mapsDir, { recursive: true });
          args.push(this.objectFile(m.digest), m.program, m.persistentMaps.length ? m.persistentMaps.map((n) => `${n}=${join(mapsDir, n)}`).join(',') : '-');
        }
        const r = await xdpctl<{ root: { id: number; tag: string }; modules: { id: number; tag: string }[] }>(args);
        if (!r.ok) {
          await fsp.rm(dir, { recursive: true, force: true });
          throw this.refusal(r.failure, req.modules);
        }
        ids = r.value.modules;
        rootId = r.value.root.id;
        rootTag = r.value.root.tag;
      }

      let mode: ChainState['mode'] = meta.current?.mode ?? 'native';
      try {
        if (running === null) {
          mode = await this.attach(req.port, iface, join(dir, 'root'), req.target);
        } else {
          const old = meta.current && existsSync(join(this.chainDir(req.port, meta.current.chainDigest), 'root')) ? join(this.chainDir(req.port, meta.current.chainDigest), 'root') : `id:${running}`;
          const r = await xdpctl(['replace', this.linkPin(req.port), join(dir, 'root'), old]);
          if (!r.ok) throw new DeviceError('kernel_failed', `atomic replace failed (${r.failure.error}, errno ${r.failure.errno}); the old chain still runs`);
        }
      } catch (e) {
        if (!reusingPrevious) await fsp.rm(dir, { recursive: true, force: true });
        throw e;
      }

      const next: ChainState = {
        chainDigest: digest,
        target: req.target,
        mode,
        modules: loadedModules(req.modules, ids),
        rootProgId: rootId,
        rootTag,
        loadedAt: new Date().toISOString(),
        committed: false,
      };
      const dropped = meta.previous && meta.previous.chainDigest !== digest && meta.previous.chainDigest !== meta.current?.chainDigest ? meta.previous : null;
      if (dropped) await fsp.rm(this.chainDir(req.port, dropped.chainDigest), { recursive: true, force: true });
      const status = running === null ? 'loaded' : 'replaced';
      this.meta[req.port] = { current: next, previous: running === null ? null : meta.current };
      await this.saveMeta(req.port);
      return { status, deviceId: this.device.id, port: req.port, current: next, previous: this.meta[req.port].previous };
    });
  }

  /** First attach of a port: native where the driver supports it, else generic. */
  private async attach(port: number, iface: PortInterface, rootPin: string, target: Target): Promise<ChainState['mode']> {
    await fsp.mkdir(this.portDir(port), { recursive: true });
    const tries: ['drv' | 'skb', ChainState['mode']][] = target === 'host-xdp-native' ? [['drv', 'native'], ['skb', 'generic']] : [['skb', 'generic']];
    let last: XdpctlFailure | null = null;
    for (const [flag, mode] of tries) {
      const r = await xdpctl(['attach', netnsPath(iface.netns), iface.name, flag, rootPin, this.linkPin(port)]);
      if (r.ok) return mode;
      last = r.failure;
      if (r.failure.error === 'busy') {
        throw new DeviceError('foreign_program', `${iface.name} already runs an XDP program ioplane did not load; it is left in place`, 'port');
      }
    }
    throw new DeviceError('kernel_failed', `attaching to ${iface.name} failed: ${last?.error} (errno ${last?.errno})`);
  }

  async detach(port: number): Promise<{ status: 'detached' | 'not_attached'; deviceId: string; port: number }> {
    return this.queue.run(async () => {
      this.checkPort(port);
      const had = existsSync(this.linkPin(port));
      if (had) {
        const r = await xdpctl(['detach', this.linkPin(port)]);
        if (!r.ok) throw new DeviceError('kernel_failed', `detach failed: ${r.failure.error}`);
      }
      // Persistent maps stay: a later load of the module picks its state up again.
      await fsp.rm(join(this.portDir(port), 'chains'), { recursive: true, force: true });
      this.meta[port] = { current: null, previous: null };
      await this.saveMeta(port);
      return { status: had ? 'detached' : 'not_attached', deviceId: this.device.id, port };
    });
  }

  async commit(port: number): Promise<CommitResult> {
    return this.queue.run(async () => {
      const meta = this.checkPort(port);
      if (!meta.current) return { status: 'nothing_to_commit', deviceId: this.device.id, port, current: null };
      if (meta.previous) await fsp.rm(this.chainDir(port, meta.previous.chainDigest), { recursive: true, force: true });
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
        return { status: 'rolled_back', scope: 'firmware', deviceId: this.device.id, current: null, firmware: await this.firmware.rollback(req.signal) };
      }
      const meta = this.checkPort(req.port);
      if (!meta.previous || !meta.current) throw new DeviceError('nothing_to_roll_back', `port ${req.port} of ${this.device.id} keeps no previous chain (committed or never replaced)`, 'port');
      const prevRoot = join(this.chainDir(req.port, meta.previous.chainDigest), 'root');
      const curRoot = join(this.chainDir(req.port, meta.current.chainDigest), 'root');
      const r = await xdpctl(['replace', this.linkPin(req.port), prevRoot, existsSync(curRoot) ? curRoot : `id:${meta.current.rootProgId}`]);
      if (!r.ok) throw new DeviceError('kernel_failed', `atomic swap back failed (${r.failure.error}, errno ${r.failure.errno}); the current chain still runs`);
      await fsp.rm(this.chainDir(req.port, meta.current.chainDigest), { recursive: true, force: true });
      this.meta[req.port] = { current: meta.previous, previous: null };
      await this.saveMeta(req.port);
      return { status: 'rolled_back', scope: 'program', deviceId: this.device.id, port: req.port, current: meta.previous };
    });
  }

  /** Runs vectors on a fresh instance of each module's object: the live maps are not disturbed. */
  async runVectors(port: number, vectors: VectorRequest[]): Promise<VectorOutcome[]> {
    const chain = this.checkPort(port).current;
    if (!chain || chain.modules.length === 0) throw new DeviceError('not_found', `nothing ioplane knows is loaded on port ${port} of ${this.device.id}`, 'port');
    const out: VectorOutcome[] = [];
    for (const [i, v] of vectors.entries()) {
      const m = v.module ? chain.modules.find((x) => x.name === v.module) : chain.modules.length === 1 ? chain.modules[0] : undefined;
      if (!m) throw new DeviceError('not_found', v.module ? `module ${v.module} is not in the chain` : 'the chain has several modules; name one', `vectors[${i}].module`);
      const [r] = await runVectors(this.objectFile(m.digest), [{ name: v.name, packet: v.packet, expectVerdict: v.expectVerdict, expectOutput: v.expectOutput, repeat: v.repeat }], {
        program: m.program,
        timingRepeat: 0,
      });
      out.push({ ...r, module: m.name, emulated: false });
    }
    return out;
  }

  async counters(): Promise<DeviceCounters> {
    const modules: ModuleCounters[] = [];
    const links = await linksIn(this.iface(0).netns);
    for (const [port, meta] of this.meta.entries()) {
      const chain = meta.current;
      if (!chain) continue;
      const dir = this.chainDir(port, chain.chainDigest);
      const rx = links.find((l) => l.ifname === this.iface(port).name)?.rx ?? { packets: 0, bytes: 0, dropped: 0 };
      const stats = chain.modules.length > 1 ? await readStats(join(dir, 'stats')) : null;
      for (const [i, m] of chain.modules.entries()) {
        const prog = await this.progIdOf(join(dir, `m${i}_prog`));
        const maps = await readMapTotals(dir, `m${i}_map_`);
        const base = { module: m.name, port, maps };
        if (stats?.[i]) modules.push({ ...base, ...stats[i], cpuNs: prog && prog.runCnt > 0 ? prog.runTimeNs : null, source: 'dispatcher' });
        else if (prog && prog.runCnt > 0) modules.push({ ...base, packets: prog.runCnt, bytes: rx.bytes, drops: rx.dropped, cpuNs: prog.runTimeNs, source: 'prog-stats' });
        else modules.push({ ...base, packets: rx.packets, bytes: rx.bytes, drops: rx.dropped, cpuNs: null, source: 'interface' });
      }
    }
    return { deviceId: this.device.id, at: new Date().toISOString(), modules };
  }
}
