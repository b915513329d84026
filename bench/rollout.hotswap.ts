import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildModule, findBpftool, kernelAvailable, runProcess } from '@ioplane/compiler';
import { bpffsRoot, ensureXdpctl, portInterface, removeMachine, netnsPath, type ChainModule } from '@ioplane/devices';
import type { FirmwareProfile } from '@ioplane/domain';
import { benchDevice, benchKernelDriver, BENCH_CACHE_DIR } from './rollout.fleet';
import { swapOnce, swapOnceBinary } from './rollout.swap-once';

const UDP_PORT = 9777;
const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find((p) => existsSync(p)) ?? 'ip';

/** Counts the bench's UDP packets (and drops them, so the stack stays quiet) into slot `version` of a map both versions share. */
function counterSource(version: number): string {
  return `#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 2); __type(key, __u32); __type(value, __u64); } hs_count SEC(".maps");
SEC("xdp") int hs_counter(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP)) return XDP_PASS;
  struct iphdr *ip = (void *)(eth + 1);
  if ((void *)(ip + 1) > end || ip->protocol != 17 || ip->ihl != 5) return XDP_PASS;
  struct udphdr *udp = (void *)(ip + 1);
  if ((void *)(udp + 1) > end || udp->dest != bpf_htons(${UDP_PORT})) return XDP_PASS;
  __u32 k = ${version};
  __u64 *v = bpf_map_lookup_elem(&hs_count, &k);
  if (v) __sync_fetch_and_add(v, 1);
  return XDP_DROP;
}
char _license[] SEC("license") = "GPL";
`;
}

/** Steady-rate UDP sender run in the peer namespace; prints what the kernel accepted to send. */
const SENDER = `const [n, rate, addr, port] = process.argv.slice(1); const N = +n, R = +rate;
const s = require('dgram').createSocket('udp4'); const buf = Buffer.alloc(64);
let queued = 0, ok = 0, err = 0, done = 0; const t0 = process.hrtime.bigint();
const finish = () => { s.close(); console.log(JSON.stringify({ ok, err, seconds: Number(process.hrtime.bigint() - t0) / 1e9 })); };
const tick = () => {
  const due = Math.min(N, Math.floor((Number(process.hrtime.bigint() - t0) / 1e9) * R));
  while (queued < due) { queued++; s.send(buf, +port, addr, (e) => { if (e) err++; else ok++; if (++done === N) finish(); }); }
  if (queued < N) setTimeout(tick, 1);
};
tick();`;

export type HotswapResult =
  | { skipped: string }
  | {
      atomic: { sent: number; counted: number; lost: number; replacements: number; seconds: number; perVersion: number[] };
      detachAttach: { sent: number; counted: number; lost: number; replacements: number; seconds: number };
      /** Detach and attach back to back in one process (bench/rollout.swap-once.ts); gap = detach start to attach done. */
      oneProcess: {
        sent: number;
        counted: number;
        lost: number;
        replacements: number;
        seconds: number;
        gapMeanUs: number;
        gapMaxUs: number;
      };
      mode: string;
      rate: number;
      broken: string[];
    };

async function ipRun(args: string[]): Promise<string> {
  const r = await runProcess(IP, args, { timeoutMs: 20_000, env: ENV });
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

function send(peerNs: string, n: number, rate: number, addr: string): Promise<{ ok: number; err: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(IP, ['netns', 'exec', peerNs, process.execPath, '-e', SENDER, String(n), String(rate), addr, String(UDP_PORT)], {
      env: ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let errText = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (errText += d));
    p.on('error', reject);
    p.on('close', (code) => {
      try {
        if (code !== 0) throw new Error(`sender exited ${code}: ${errText.trim()}`);
        resolve(JSON.parse(out.trim().split('\n').pop()!));
      } catch (e) {
        reject(e);
      }
    });
  });
}

async function mapSlots(bpftool: string, pin: string): Promise<number[]> {
  const r = await runProcess(bpftool, ['map', 'dump', 'pinned', pin, '-j'], { timeoutMs: 10_000, env: ENV });
  if (r.code !== 0) throw new Error(`bpftool map dump ${pin}: ${r.stderr.trim()}`);
  type E = { key: unknown; value: unknown; formatted?: { key: number; value: number } };
  const le = (v: unknown): number => (Array.isArray(v) ? (v as string[]).reduceRight((s, b) => s * 256 + parseInt(b, 16), 0) : Number(v));
  return (JSON.parse(r.stdout) as E[]).map((e) => (e.formatted ? Number(e.formatted.value) : le(e.value)));
}

/**
 * Host XDP replaced under steady UDP traffic on a veth pair in two namespaces made for the run:
 * first through the agent's kernel driver (one BPF_LINK_UPDATE per replacement), then, as the
 * baseline, by detaching the link and attaching the other (already loaded) program again. Both
 * versions count into one persistent pinned map; lost = sent - counted.
 */
export async function measureHotswap(o: { packets: number; rate: number; profiles: FirmwareProfile[] }): Promise<HotswapResult> {
  if (process.getuid?.() !== 0) return { skipped: 'not root' };
  const k = await kernelAvailable();
  if (!k.ok) return { skipped: `no kernel XDP: ${k.reason}` };
  const bpftool = findBpftool();
  if (!bpftool) return { skipped: 'bpftool not installed' };
  let xdpctlBin: string;
  try {
    xdpctlBin = await ensureXdpctl();
  } catch (e) {
    return { skipped: `iop-xdpctl unavailable: ${(e as Error).message}` };
  }

  const agentId = `bench-hs-${process.pid}`;
  const work = mkdtempSync(join(tmpdir(), 'ioplane-bench-hotswap-'));
  const device = benchDevice('bench-hotswap', 'eth0', 'nic', null);
  const iface = portInterface(agentId, 0, device.id, 0);
  const broken: string[] = [];
  try {
    const versions: ChainModule[] = [];
    for (const v of [0, 1]) {
      const dir = join(work, `v${v}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'hs-counter.bpf.c'), counterSource(v));
      const art = await buildModule({ name: 'hs-counter', dir, sources: ['hs-counter.bpf.c'] }, { cacheDir: BENCH_CACHE_DIR });
      const object = readFileSync(art.objectPath);
      versions.push({
        name: 'hs-counter',
        version: `1.0.${v}`,
        digest: createHash('sha256').update(object).digest('hex'),
        program: 'hs_counter',
        persistentMaps: ['hs_count'],
        object,
      });
    }
    const driver = await benchKernelDriver({ agentId, device, stateDir: join(work, 'agent'), profiles: o.profiles });
    const first = await driver.load({ port: 0, target: 'host-xdp-native', modules: [versions[0]] });
    const mode = first.current.mode;
    // A static neighbour: ARP resolution would otherwise hold back (and drop) the first packets.
    const mac = (JSON.parse(await ipRun(['-n', iface.netns, '-j', 'link', 'show', 'dev', iface.name])) as { address: string }[])[0].address;
    await ipRun(['-n', iface.peerNetns, 'neigh', 'replace', iface.address, 'lladdr', mac, 'dev', iface.peerName, 'nud', 'permanent']);

    const count = async (): Promise<number[]> => {
      const c = await driver.counters();
      return [c.modules[0]?.maps?.hs_count ?? NaN];
    };
    const sharedPin = (): string => {
      // The driver pins every map of the running chain; the persistent one is the same map whatever the version.
      const root = join(
        bpffsRoot(agentId),
        createHash('sha256').update(device.id).digest('hex').slice(0, 12),
        'p0',
        'maps',
        'hs-counter',
        'hs_count',
      );
      return root;
    };

    // Atomic: the production path, driver.load alternating the two versions while traffic flows.
    const before = await mapSlots(bpftool, sharedPin());
    const sender = send(iface.peerNetns, o.packets, o.rate, iface.address);
    let finished = false;
    void sender.finally(() => (finished = true)).catch(() => undefined);
    let replacements = 0;
    const t0 = performance.now();
    while (!finished) {
      const r = await driver.load({ port: 0, target: 'host-xdp-native', modules: [versions[(replacements + 1) % 2]] });
      if (r.status !== 'replaced') broken.push(`replacement ${replacements}: ${r.status}`);
      replacements++;
    }
    const sent = await sender;
    const seconds = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 200));
    const after = await mapSlots(bpftool, sharedPin());
    const perVersion = after.map((v, i) => v - (before[i] ?? 0));
    const counted = perVersion.reduce((s, x) => s + x, 0);
    const viaDriver = await count();
    if (!(viaDriver[0] >= counted)) broken.push(`the driver's counters (${viaDriver[0]}) do not show the shared map (${counted})`);
    if (counted > sent.ok) broken.push(`counted ${counted} packets but only ${sent.ok} were sent`);
    await driver.detach(0);

    // Baseline: detach the link, attach the other program; both loaded beforehand so the gap is only the two steps.
    const base = join(bpffsRoot(agentId), 'baseline');
    const basePins = [join(base, 'a'), join(base, 'b')];
    const mapPin = join(base, 'hs_count');
    mkdirSync(base, { recursive: true });
    for (const [i, dir] of basePins.entries()) {
      mkdirSync(dir, { recursive: true });
      const obj = join(work, `v${i}.o`);
      writeFileSync(obj, versions[i].object);
      const r = await runProcess(xdpctlBin, ['load-chain', dir, '-', obj, 'hs_counter', `hs_count=${mapPin}`], {
        timeoutMs: 30_000,
        env: ENV,
      });
      if (r.code !== 0) throw new Error(`iop-xdpctl load-chain: ${r.stdout.trim()} ${r.stderr.trim()}`);
    }
    const link = join(base, 'link');
    const flag = mode === 'native' ? 'drv' : 'skb';
    const attach = async (i: number): Promise<void> => {
      const r = await runProcess(xdpctlBin, ['attach', netnsPath(iface.netns), iface.name, flag, join(basePins[i], 'root'), link], {
        timeoutMs: 10_000,
        env: ENV,
      });
      if (r.code !== 0) throw new Error(`iop-xdpctl attach: ${r.stdout.trim()}`);
    };
    await attach(0);
    const bBefore = await mapSlots(bpftool, mapPin);
    const bSender = send(iface.peerNetns, o.packets, o.rate, iface.address);
    let bFinished = false;
    void bSender.finally(() => (bFinished = true)).catch(() => undefined);
    let bSwaps = 0;
    const b0 = performance.now();
    while (!bFinished) {
      const r = await runProcess(xdpctlBin, ['detach', link], { timeoutMs: 10_000, env: ENV });
      if (r.code !== 0) throw new Error(`iop-xdpctl detach: ${r.stdout.trim()}`);
      await attach((bSwaps + 1) % 2);
      bSwaps++;
      // Paced like the driver path, so both phases swap about as often.
      await new Promise((r) => setTimeout(r, Math.max(0, (seconds * 1000) / Math.max(1, replacements) - 10)));
    }
    const bSent = await bSender;
    const bSeconds = (performance.now() - b0) / 1000;
    await new Promise((r) => setTimeout(r, 200));
    const bCounted = (await mapSlots(bpftool, mapPin)).reduce((s, v, i) => s + v - (bBefore[i] ?? 0), 0);
    await runProcess(xdpctlBin, ['detach', link], { timeoutMs: 10_000, env: ENV });

    // The smallest detach-then-attach: one process, both programs open, detach and attach back to back.
    const swapper = await swapOnceBinary();
    const oBefore = await mapSlots(bpftool, mapPin);
    const oSender = send(iface.peerNetns, o.packets, o.rate, iface.address);
    const o0 = performance.now();
    const sendSeconds = o.packets / o.rate;
    const oSwap = await swapOnce(swapper, {
      netns: netnsPath(iface.netns),
      ifname: iface.name,
      mode: flag,
      pins: [join(basePins[0], 'root'), join(basePins[1], 'root')],
      swaps: replacements,
      intervalUs: (sendSeconds * 1e6) / (replacements + 2),
    });
    const oSent = await oSender;
    const oSeconds = (performance.now() - o0) / 1000;
    await new Promise((r) => setTimeout(r, 200));
    const oCounted = (await mapSlots(bpftool, mapPin)).reduce((s, v, i) => s + v - (oBefore[i] ?? 0), 0);
    return {
      oneProcess: {
        sent: oSent.ok,
        counted: oCounted,
        lost: oSent.ok - oCounted,
        replacements: oSwap.swaps,
        seconds: oSeconds,
        gapMeanUs: oSwap.gapMeanNs / 1000,
        gapMaxUs: oSwap.gapMaxNs / 1000,
      },
      atomic: { sent: sent.ok, counted, lost: sent.ok - counted, replacements, seconds, perVersion },
      detachAttach: { sent: bSent.ok, counted: bCounted, lost: bSent.ok - bCounted, replacements: bSwaps, seconds: bSeconds },
      mode,
      rate: o.rate,
      broken,
    };
  } finally {
    // Only what this run made: its two namespaces (and with them the veth pair), its bpffs folder, its temp files.
    await removeMachine(agentId).catch(() => undefined);
    rmSync(bpffsRoot(agentId), { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}
