import { promises as fsp, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  describeOutputDiff,
  findBpftool,
  notRunResult,
  packetTooShort,
  parseRunOutput,
  runProcess,
  verdictName,
  type VectorResult,
} from '@ioplane/compiler';
import { DeviceError } from '../device.error';
import type { ChainState, DeployedRun, VectorRequest } from '../device.driver';
import { bpftool, linkedProgId } from './bpftool.run';
import { progArraySlots } from './chain.readback';

/** XDP test runs need at least an Ethernet header. */
/** Room for programs that grow the packet (xdp_adjust_head/tail). */
const OUTPUT_SLACK = 512;
const IP = '/usr/sbin/ip';
const TASKSET = '/usr/bin/taskset';
const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };

export interface ChainVectorTarget {
  chain: ChainState;
  /** The hook's pinned bpf_link. */
  linkPin: string;
  /** The namespace of the hop that runs the chain (null: the agent's own) and the netdev it is attached to. */
  netns: string | null;
  ifname: string;
}

interface LiveChain {
  rootProgId: number;
  /** Program ids by slot; null when the root is no tail-call root (it runs the module itself). */
  slots: (number | null)[] | null;
  /** The hook's counter map, by id. */
  statsMapId: number | null;
}

interface Row {
  packets: number;
  passed: number;
  dropped: number;
  other: number;
}

const json = async <T>(args: string[]): Promise<T | null> => {
  const r = await bpftool([...args, '-j']);
  if (r.code !== 0) return null;
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    return null;
  }
};

/** The chain the hook runs now, followed from its link: root, the root's program array, its counter map. */
async function liveChain(linkPin: string): Promise<LiveChain | null> {
  const rootProgId = await linkedProgId(linkPin);
  if (rootProgId === null) return null;
  const root = await json<{ map_ids?: number[] }>(['prog', 'show', 'id', String(rootProgId)]);
  let arrayId: number | null = null;
  let statsMapId: number | null = null;
  const ids = root?.map_ids ?? [];
  const maps = await Promise.all(ids.map((id) => json<{ type: string; name?: string }>(['map', 'show', 'id', String(id)])));
  for (const [i, m] of maps.entries()) {
    if (m?.type === 'prog_array' && m.name === 'iop_chain_progs') arrayId = ids[i];
    if (m?.type === 'percpu_array' && m.name === 'iop_chain_stats') statsMapId = ids[i];
  }
  return { rootProgId, slots: arrayId === null ? null : await progArraySlots(['id', String(arrayId)]), statsMapId };
}

/** The last CPU this process may run on: test runs are pinned there so their counter row is read on that CPU alone. */
function testCpu(): number {
  const list = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  const last = list.split(',').pop()!.split('-').pop()!;
  return Number(last) || 0;
}

const leU64 = (bytes: string[], field: number): number => {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(parseInt(bytes[field * 8 + i] ?? '0', 16));
  return Number(v);
};

/** One CPU's share of a chain counter row (struct iop_chain_stat: packets, bytes, passed, dropped, other, ...). */
async function rowOnCpu(mapId: number, row: number, cpu: number): Promise<Row | null> {
  const key = [row & 0xff, (row >> 8) & 0xff, (row >> 16) & 0xff, row >>> 24].map((b) => b.toString(16).padStart(2, '0'));
  const e = await json<{ values?: { cpu: number; value: string[] }[] }>(['map', 'lookup', 'id', String(mapId), 'key', 'hex', ...key]);
  const v = e?.values?.find((x) => x.cpu === cpu)?.value;
  if (!v) return null;
  return { packets: leU64(v, 0), passed: leU64(v, 2), dropped: leU64(v, 3), other: leU64(v, 4) };
}

async function ifindexOf(netns: string | null, ifname: string): Promise<number | null> {
  const r = await runProcess(IP, [...(netns ? ['-n', netns] : []), '-j', 'link', 'show', 'dev', ifname], { timeoutMs: 10_000, env: ENV });
  if (r.code !== 0) return null;
  return (JSON.parse(r.stdout || '[]') as { ifindex?: number }[])[0]?.ifindex ?? null;
}

/** struct xdp_md as BPF_PROG_TEST_RUN takes it: the packet arrives on `ifindex`, queue 0. */
function xdpCtx(packetLength: number, ifindex: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(0, 0); // data
  b.writeUInt32LE(packetLength, 4); // data_end
  b.writeUInt32LE(ifindex, 12); // ingress_ifindex
  return b;
}

/**
 * `bpftool prog run` of one live program by id, inside the hop's namespace (so helpers that look at
 * the network - a FIB lookup - see the hop's, and the packet arrives on the hop's netdev), pinned to `cpu`.
 */
async function runLive(
  hop: { netns: string | null; cpu: number },
  progId: number,
  files: { in: string; ctx: string | null; out?: string; outSize?: number },
  repeat: number,
) {
  const bin = findBpftool();
  if (!bin) throw new DeviceError('kernel_failed', 'bpftool is not installed');
  const args = ['prog', 'run', 'id', String(progId), 'data_in', files.in];
  if (files.out) args.push('data_out', files.out, 'data_size_out', String(files.outSize));
  if (files.ctx) args.push('ctx_in', files.ctx);
  args.push('repeat', String(repeat));
  const cmd = [TASKSET, '-c', String(hop.cpu), bin, ...args];
  const [exe, ...rest] = hop.netns ? [IP, 'netns', 'exec', hop.netns, ...cmd] : cmd;
  const r = await runProcess(exe, rest, { timeoutMs: 60_000, env: ENV });
  const parsed = r.code === 0 ? parseRunOutput(r.stdout) : null;
  if (!parsed)
    return {
      error: `bpftool prog run failed: ${r.stderr.trim().split('\n').slice(-2).join(' | ') || r.stdout.trim() || `exit ${r.code}`}`,
    } as const;
  return parsed;
}

/**
 * A module's own verdict from its slot's counter row around one test run (on the run's CPU) and
 * what the chain returned: a pass went on into the later slots (the chain's return value is theirs,
 * and so are the output bytes when a slot follows); anything else ended the chain at the module, so
 * the return value and the bytes are the module's own. Live traffic on that CPU between the two
 * reads adds its own packets: the reading stays exact while they all agree with the run's.
 */
export function ownVerdict(
  d: { packets: number; passed: number },
  chainVerdict: string,
  slotFollows: boolean,
): { verdict: string; own: boolean; problem?: string } {
  if (d.packets < 1) return { verdict: chainVerdict, own: true, problem: 'the chain counters did not count the run' };
  if (d.passed === d.packets) return { verdict: 'XDP_PASS', own: !slotFollows };
  if (d.passed === 0) return { verdict: chainVerdict, own: true };
  return {
    verdict: 'UNKNOWN',
    own: false,
    problem: `live traffic during the run left the module's own verdict unknown (the chain returned ${chainVerdict})`,
  };
}

/**
 * Runs a module's vector on the chain as deployed, not on a copy: the hook's link names the root,
 * the root's program array names what the module's slot holds, and BPF_PROG_TEST_RUN runs that live
 * program (its live maps, the state the deployed chain has) in the hop's namespace. A module that
 * passes the packet tail-calls the next slot, so the run goes on through the rest of the chain as
 * deployed and its return value is the chain's, not the module's: the module's own verdict is read
 * from the chain's counter row of its slot (passed, dropped, other), on the one CPU the run was
 * pinned to. Output bytes are compared only where they are the module's own: its verdict ended the
 * chain (not XDP_PASS), or no slot follows it; after a pass into later slots they are what the rest
 * of the chain made of the packet, so they are not compared there (DeployedRun.outputCompared says
 * which). The test packets really cross the chain: later modules and the chain counters see them,
 * as they see any packet (the runbook reads its probe counters after the vectors).
 */
/** What a vector run reads of the hook before it runs: the chain it runs now, and the netdev's ifindex. */
export interface DeployedHook {
  live: LiveChain | null;
  ifindex: number | null;
}

/**
 * Reads the hook once for a batch of vectors (a health check sends all of a port's at once): the
 * chain followed from its link takes several bpftool calls, and each is a process.
 */
export async function readDeployedHook(t: ChainVectorTarget): Promise<DeployedHook> {
  const [live, ifindex] = await Promise.all([liveChain(t.linkPin), ifindexOf(t.netns, t.ifname)]);
  return { live, ifindex };
}

export async function runDeployedVector(
  t: ChainVectorTarget,
  index: number,
  v: VectorRequest,
  hook?: DeployedHook,
): Promise<VectorResult & { deployed?: DeployedRun }> {
  const m = t.chain.modules[index];
  const base = notRunResult(v);
  const tooShort = packetTooShort(v);
  if (tooShort) return { ...base, reason: tooShort };
  const { live, ifindex } = hook ?? (await readDeployedHook(t));
  if (!live) throw new DeviceError('not_found', `nothing is attached to ${t.ifname}: the chain with ${m.name} is not deployed`, 'port');
  // A tail-call root runs the module in its slot; any other root (a lone module, a foreign program) is what the packet meets.
  const slot = live.slots ? index : -1;
  const progId = live.slots ? (live.slots[index] ?? null) : live.rootProgId;
  const problems: string[] = [];
  if (live.rootProgId !== t.chain.rootProgId)
    problems.push(`the hook runs program #${live.rootProgId}, not this chain's root #${t.chain.rootProgId}`);
  if (progId === null) {
    return {
      ...base,
      reason: `vector "${v.name}": ${[...problems, `slot ${index} of the running chain is empty: ${m.name} is not deployed there`].join('; ')}`,
    };
  }
  if (progId !== m.progId) {
    const other = t.chain.modules.find((x) => x.progId === progId)?.name;
    const at = live.slots?.indexOf(m.progId) ?? -1;
    problems.push(
      `${live.slots ? `slot ${index}` : 'the hook'} runs ${other ?? `program #${progId}`} instead of ${m.name}${at >= 0 ? ` (${m.name} sits in slot ${at})` : ''}`,
    );
  }
  const next = live.slots ? (live.slots.slice(index + 1).find((x) => x !== null) ?? null) : null;
  const hop = { netns: t.netns, cpu: testCpu() };
  const work = await fsp.mkdtemp(join(tmpdir(), 'ioplane-chain-vectors-'));
  try {
    const files = {
      in: join(work, 'in.bin'),
      ctx: ifindex ? join(work, 'ctx.bin') : null,
      out: join(work, 'out.bin'),
      outSize: v.packet.length + OUTPUT_SLACK,
    };
    await fsp.writeFile(files.in, v.packet);
    if (files.ctx) await fsp.writeFile(files.ctx, xdpCtx(v.packet.length, ifindex!));
    const prior = Math.max(0, Math.floor(v.repeat ?? 0));
    if (prior > 0) {
      // The same packet sent `prior` times first, into the same live state; the kernel does not restore it between repeats, so the checked run is a separate call.
      const warm = await runLive(hop, progId, { in: files.in, ctx: files.ctx }, prior);
      if ('error' in warm) return { ...base, reason: `vector "${v.name}": prior runs failed: ${warm.error}` };
    }
    // The module's row is the slot it was loaded into (its iop_chain_slot): read on the run's CPU just around the run.
    const counted = live.slots && live.statsMapId !== null && progId === m.progId;
    const before = counted ? await rowOnCpu(live.statsMapId!, index, hop.cpu) : null;
    const run = await runLive(hop, progId, files, 1);
    if ('error' in run) return { ...base, reason: `vector "${v.name}": ${run.error}` };
    const after = counted ? await rowOnCpu(live.statsMapId!, index, hop.cpu) : null;
    const chainVerdict = verdictName(run.retval);
    let actualVerdict = chainVerdict;
    let own = true;
    if (before && after) {
      const o = ownVerdict({ packets: after.packets - before.packets, passed: after.passed - before.passed }, chainVerdict, next !== null);
      actualVerdict = o.verdict;
      own = o.own;
      if (o.problem) problems.push(`slot ${index}: ${o.problem}`);
    } else if (live.slots && progId === m.progId) {
      problems.push(`the chain's counters could not be read for slot ${index}`);
    }
    const out = await fsp.readFile(files.out).catch(() => Buffer.alloc(0));
    if (actualVerdict !== v.expectVerdict)
      problems.push(
        `expected verdict ${v.expectVerdict}, got ${actualVerdict}${actualVerdict === chainVerdict ? '' : ` (the chain after it returned ${chainVerdict})`}`,
      );
    const outputCompared = own && !!v.expectOutput;
    if (outputCompared) {
      const diff = describeOutputDiff(v.expectOutput!, out);
      if (diff) problems.push(diff);
    }
    const deployed: DeployedRun = { rootProgId: live.rootProgId, slot, progId, outputCompared };
    const result = { ...base, actualVerdict, actualOutputHex: out.toString('hex'), nsPerPacket: run.durationNs, deployed };
    if (problems.length) return { ...result, reason: `vector "${v.name}" on the deployed chain: ${problems.join('; ')}` };
    return { ...result, passed: true };
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}
