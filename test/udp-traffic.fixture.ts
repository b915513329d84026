import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { PortInterface } from '@ioplane/devices';

const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find((p) => existsSync(p)) ?? 'ip';

/**
 * C, the start of the tests' XDP programs on UDP: the headers, and `udp_of(ctx)`, the UDP header
 * of an IPv4 packet with a plain 20-byte IP header, or 0 for any other packet.
 */
export const UDP_XDP_PRELUDE = `#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
static __always_inline struct udphdr *udp_of(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP)) return 0;
  struct iphdr *ip = (void *)(eth + 1);
  if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_UDP || ip->ihl != 5) return 0;
  struct udphdr *udp = (void *)(ip + 1);
  if ((void *)(udp + 1) > end) return 0;
  return udp;
}
`;

/** The UDP port `udpCounterSource` counts and `sendUdp` sends to unless told otherwise. */
export const COUNTED_UDP_PORT = 9999;

/**
 * An XDP program `udp_counter` that counts UDP datagrams to COUNTED_UDP_PORT into slot `slot` of
 * its array map `hits` (of `slots` slots), then drops them: every datagram is counted or lost.
 * Two versions with their own slots, sharing the map, show which one counted what.
 */
export function udpCounterSource(slot = 0, slots = 1): string {
  return `${UDP_XDP_PRELUDE}struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, ${slots}); __type(key, __u32); __type(value, __u64); } hits SEC(".maps");
SEC("xdp") int udp_counter(struct xdp_md *ctx) {
  struct udphdr *udp = udp_of(ctx);
  if (!udp || udp->dest != bpf_htons(${COUNTED_UDP_PORT})) return XDP_PASS;
  __u32 k = ${slot};
  __u64 *v = bpf_map_lookup_elem(&hits, &k);
  if (v) __sync_fetch_and_add(v, 1);
  return XDP_DROP;
}
char _license[] SEC("license") = "GPL";
`;
}

const SENDER = `const [addr, port, ms, count, mark, rate, burst] = process.argv.slice(1).map((x, i) => (i === 0 ? x : Number(x)));
const s = require('dgram').createSocket('udp4');
const buf = Buffer.alloc(32); buf[2] = mark;
let sent = 0, queued = 0, done = 0, over = false, stopped = false; const t0 = Date.now(), until = t0 + ms;
process.on('SIGTERM', () => { stopped = true; });
const finish = () => { if (over) return; over = true; s.close(); console.log(sent); };
const more = () => !stopped && (count > 0 ? queued < count : Date.now() < until);
const tick = () => {
  const n = rate > 0 ? Math.floor(((Date.now() - t0) * rate) / 1000) - queued : burst;
  for (let k = 0; k < n && more(); k++) { queued++; s.send(buf, port, addr, (e) => { if (!e) sent++; if (++done === queued && !more()) finish(); }); }
  if (more()) setTimeout(tick, 1); else if (done === queued) finish();
};
tick();`;

export interface UdpTraffic {
  /** Resolves with how many datagrams the kernel accepted to send. */
  done: Promise<number>;
  /** Stops sending (at most `ms` after start it stops anyway); resolves like `done`. */
  stop(): Promise<number>;
}

export interface UdpTrafficOptions {
  /** Destination port; default COUNTED_UDP_PORT. */
  port?: number;
  /** Send for this long (unless `count` is given), or until stopped. */
  ms?: number;
  /** Send this many datagrams. */
  count?: number;
  /** Payload byte 2 (the rest is zero). */
  mark?: number;
  /** Datagrams a second; default: `burst` a millisecond at most. */
  rate?: number;
  /** Without `rate`: datagrams queued a millisecond; default 20. */
  burst?: number;
}

/** Sends 32-byte UDP datagrams from the port's peer namespace to its address. */
export function sendUdp(i: PortInterface, o: UdpTrafficOptions): UdpTraffic {
  const args = [
    'netns',
    'exec',
    i.peerNetns,
    process.execPath,
    '-e',
    SENDER,
    i.address,
    ...[o.port ?? COUNTED_UDP_PORT, o.ms ?? 0, o.count ?? 0, o.mark ?? 0, o.rate ?? 0, o.burst ?? 20].map(String),
  ];
  const p = spawn(IP, args, { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  const done = new Promise<number>((resolve, reject) => {
    let out = '';
    let err = '';
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (err += c));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`sender exit ${code}: ${err.trim()}`))));
  });
  return {
    done,
    stop() {
      // ip netns exec execs node in place, so this pid is the sender's.
      if (p.exitCode === null) p.kill('SIGTERM');
      return done;
    },
  };
}
