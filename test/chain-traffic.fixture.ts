import { createHash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { buildModule, findBpftool, loadToolchain, runProcess } from '@ioplane/compiler';
import type { FirmwareProfile } from '@ioplane/domain';
import {
  CHAIN_HEADER,
  EmulatedNicDriver,
  FaultBook,
  KernelXdpDriver,
  netnsPath,
  type ChainModule,
  type EmulatedDeviceOptions,
  type KernelXdpOptions,
  type PortInterface,
} from '@ioplane/devices';
import { DEFAULT_MODULES_DIR, loadModule } from '@ioplane/modules';
import { loadProfiles } from '@ioplane/profiles';
import { sendUdp, UDP_XDP_PRELUDE, type UdpTraffic } from './udp-traffic.fixture';

/** Port of the chain tests' UDP traffic; everything else passes the stages untouched. */
export const CHAIN_UDP_PORT = 7777;
/** Payload byte 2 set to this: stage 0 drops the packet. */
export const DROP_MARK = 0xdd;
/** Payload byte 1 set to this by a stage that found the packet out of order. */
const DISORDER = 0xee;
const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find((p) => existsSync(p)) ?? 'ip';
const TC = ['/usr/sbin/tc', '/sbin/tc', '/usr/bin/tc'].find((p) => existsSync(p)) ?? 'tc';
const NSENTER = ['/usr/bin/nsenter', '/bin/nsenter', '/usr/sbin/nsenter'].find((p) => existsSync(p)) ?? 'nsenter';

/**
 * Stage `stage` of a test chain. Payload byte 0 is the stage a packet has reached: a stage that
 * finds another value marks the packet out of order (byte 1) and counts it, then writes its own
 * successor, so a packet that went through stages 0, 1, 2 in that order leaves with byte 0 = 3 and
 * byte 1 untouched. Stage 0 drops packets carrying DROP_MARK in byte 2. `version` only changes the
 * object, so a swap loads a really different program.
 */
export function stageSource(stage: number, version: number): string {
  return `${UDP_XDP_PRELUDE}#include "iop_chain.h"
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } seen SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } disorder SEC(".maps");
const volatile __u32 stage_version = ${version};
static __always_inline void bump(void *map) { __u32 k = 0; __u64 *v = bpf_map_lookup_elem(map, &k); if (v) __sync_fetch_and_add(v, 1); }
static __always_inline int stage_verdict(struct xdp_md *ctx) {
  struct udphdr *udp = udp_of(ctx);
  if (!udp || udp->dest != bpf_htons(${CHAIN_UDP_PORT})) return XDP_PASS;
  unsigned char *p = (void *)(udp + 1);
  if ((void *)(p + 3) > (void *)(long)ctx->data_end) return XDP_PASS;
  bump(&seen);
  if (p[0] != ${stage}) { p[1] = ${DISORDER}; bump(&disorder); }
  p[0] = ${stage + 1} + (stage_version & 0);
  ${stage === 0 ? `if (p[2] == ${DROP_MARK}) return XDP_DROP;` : ''}
  return XDP_PASS;
}
SEC("xdp") int stage(struct xdp_md *ctx) { return stage_verdict(ctx); }
IOP_CHAIN_ENTRY(stage_verdict)
char _license[] SEC("license") = "GPL";
`;
}

/** A module of the catalog built as a chain module (with its flow rules, if it has any), with the path of its object (for runs on a copy of it). */
export async function buildCatalogModule(name: string, cacheDir: string): Promise<{ module: ChainModule; objectPath: string }> {
  const m = loadModule(join(DEFAULT_MODULES_DIR, name));
  const art = await buildModule({ name, dir: m.dir!, sources: m.sources }, { cacheDir });
  const object = await fsp.readFile(art.objectPath);
  const module: ChainModule = {
    name,
    version: m.version,
    digest: createHash('sha256').update(object).digest('hex'),
    program: m.program,
    persistentMaps: m.hints.persistentMaps,
    object,
    ...(m.matchAction ? { matchAction: m.matchAction } : {}),
  };
  return { module, objectPath: art.objectPath };
}

/**
 * Builds a chain module from one C source as the compiler builds any module (the chain header
 * copied into its folder, `work/<folder>`).
 */
export async function buildChainModule(
  work: string,
  cacheDir: string,
  m: { folder: string; name: string; version: string; program: string; source: string },
): Promise<ChainModule> {
  const dir = join(work, m.folder);
  await fsp.mkdir(dir, { recursive: true });
  await fsp.copyFile(CHAIN_HEADER, join(dir, 'iop_chain.h'));
  await fsp.writeFile(join(dir, `${m.program}.bpf.c`), m.source);
  const art = await buildModule({ name: m.name, dir, sources: [`${m.program}.bpf.c`] }, { cacheDir });
  const object = await fsp.readFile(art.objectPath);
  return {
    name: m.name,
    version: m.version,
    digest: createHash('sha256').update(object).digest('hex'),
    program: m.program,
    persistentMaps: [],
    object,
  };
}

/** Builds stage `stage` version `version` (see stageSource). */
export function buildStage(work: string, cacheDir: string, stage: number, version: number): Promise<ChainModule> {
  return buildChainModule(work, cacheDir, {
    folder: `stage${stage}-v${version}`,
    name: `stage${stage}`,
    version: `1.0.${version}`,
    program: 'stage',
    source: stageSource(stage, version),
  });
}

/** tc ingress, after XDP: counts the test packets that made it through the chain, and whether they went through every stage in order. */
const TAIL_COUNTER = `#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 3); __type(key, __u32); __type(value, __u64); } arrived SEC(".maps");
static __always_inline void bump(__u32 k) { __u64 *v = bpf_map_lookup_elem(&arrived, &k); if (v) __sync_fetch_and_add(v, 1); }
SEC("tc") int tail_count(struct __sk_buff *skb) {
  struct { struct ethhdr eth; struct iphdr ip; struct udphdr udp; unsigned char p[3]; } __attribute__((packed)) h;
  if (bpf_skb_load_bytes(skb, 0, &h, sizeof(h)) < 0) return TC_ACT_OK;
  if (h.eth.h_proto != bpf_htons(ETH_P_IP) || h.ip.protocol != IPPROTO_UDP || h.ip.ihl != 5 || h.udp.dest != bpf_htons(${CHAIN_UDP_PORT})) return TC_ACT_OK;
  bump(0);
  bump(h.p[0] == ${'STAGES'} && h.p[1] == 0 ? 1 : 2);
  return TC_ACT_OK;
}
char _license[] SEC("license") = "GPL";
`;

export interface TailCounter {
  /** Test packets that left the chain: total, in order through every stage, and out of order. */
  read(): Promise<{ total: number; ordered: number; disordered: number }>;
}

async function run(cmd: string, args: string[]): Promise<string> {
  const r = await runProcess(cmd, args, { timeoutMs: 30_000, env: ENV });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/**
 * Puts the counter on the chain's interface at tc ingress (it runs after XDP), pinned under
 * `pinDir` (inside the test's own bpffs folder); removed with the namespace.
 */
export async function attachTailCounter(i: PortInterface, work: string, pinDir: string, stages: number): Promise<TailCounter> {
  const bpftool = findBpftool();
  if (!bpftool) throw new Error('bpftool not installed');
  const src = join(work, 'tail-count.c');
  const obj = join(work, 'tail-count.o');
  await fsp.writeFile(src, TAIL_COUNTER.replace('STAGES', String(stages)));
  const tc = await loadToolchain('clang');
  await run(tc.clang, [...tc.flags, '-c', src, '-o', obj]);
  await fsp.mkdir(pinDir, { recursive: true });
  const prog = join(pinDir, 'tail_count');
  const maps = join(pinDir, 'maps');
  await run(bpftool, ['prog', 'load', obj, prog, 'type', 'classifier', 'pinmaps', maps]);
  // nsenter, not `ip netns exec`: that remounts /sys for the namespace, and the pin under /sys/fs/bpf with it.
  const inNs = ['--net=' + netnsPath(i.netns), TC];
  await run(NSENTER, [...inNs, 'qdisc', 'replace', 'dev', i.name, 'clsact']);
  await run(NSENTER, [
    ...inNs,
    'filter',
    'replace',
    'dev',
    i.name,
    'ingress',
    'pref',
    '1',
    'handle',
    '1',
    'bpf',
    'direct-action',
    'object-pinned',
    prog,
  ]);
  return {
    async read() {
      type E = { key: unknown; value: unknown; formatted?: { key: number; value: number } };
      const le = (v: unknown): number =>
        Array.isArray(v) ? (v as string[]).reduceRight((s, b) => s * 256 + parseInt(b, 16), 0) : Number(v);
      const rows = (JSON.parse(await run(bpftool, ['map', 'dump', 'pinned', join(maps, 'arrived'), '-j'])) as E[]).map((e) =>
        e.formatted ? Number(e.formatted.value) : le(e.value),
      );
      return { total: rows[0] ?? 0, ordered: rows[1] ?? 0, disordered: rows[2] ?? 0 };
    },
  };
}

/**
 * Static neighbours both ways: ARP resolution would otherwise hold back, and drop, the first
 * packets, and ARP replies for the stack's answers would cross the chain between test packets.
 */
export async function staticNeighbour(i: PortInterface): Promise<void> {
  const mac = (ns: string, dev: string) =>
    run(IP, ['-n', ns, '-j', 'link', 'show', 'dev', dev]).then((o) => (JSON.parse(o) as { address: string }[])[0].address);
  await run(IP, [
    '-n',
    i.peerNetns,
    'neigh',
    'replace',
    i.address,
    'lladdr',
    await mac(i.netns, i.name),
    'dev',
    i.peerName,
    'nud',
    'permanent',
  ]);
  await run(IP, [
    '-n',
    i.netns,
    'neigh',
    'replace',
    i.peerAddress,
    'lladdr',
    await mac(i.peerNetns, i.peerName),
    'dev',
    i.name,
    'nud',
    'permanent',
  ]);
}

export type StageTraffic = UdpTraffic;

/**
 * Sends test datagrams from the peer namespace, at `rate` per second (default: 20 a millisecond at
 * most), for `ms`, or `count` of them, or until stopped.
 */
export function sendStageTraffic(i: PortInterface, o: { ms?: number; count?: number; mark?: number; rate?: number }): StageTraffic {
  return sendUdp(i, { ...o, port: CHAIN_UDP_PORT });
}

/** A kernel XDP driver for a hop of a test topology: no profile, no faults; initialised. */
export async function hopXdpDriver(
  o: Pick<KernelXdpOptions, 'agentId' | 'device' | 'deviceIndex' | 'stateDir' | 'host'>,
): Promise<KernelXdpDriver> {
  const driver = new KernelXdpDriver({ ...o, profile: null, profiles: [], faults: new FaultBook() });
  await driver.init();
  return driver;
}

/**
 * An emulated SmartNIC with `profile` whose accepted XDP runs in the kernel at its `stage`, time
 * scaled down a thousandfold and its vectors run on the real bytecode.
 */
export function stagedNic(
  o: { device: EmulatedDeviceOptions['device']; profile: FirmwareProfile; stage: EmulatedDeviceOptions['stage'] } & Pick<
    EmulatedDeviceOptions,
    'firmwareDir'
  >,
): EmulatedNicDriver {
  return new EmulatedNicDriver({ ...o, profiles: loadProfiles(), faults: new FaultBook(), timeScale: 0.001, kernelVectors: true });
}
