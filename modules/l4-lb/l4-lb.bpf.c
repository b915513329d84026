// SPDX-License-Identifier: GPL-2.0
/*
 * l4-lb: stateless L4 load balancer in the Katran style.
 *
 * A VIP (address, port, protocol) maps to a ring of backends; the 5-tuple hash
 * picks one, so every packet of a flow reaches the same backend without any
 * per-flow state. Two forwarding modes per VIP:
 *   - IPIP (default): push an outer IPv4 header (bpf_xdp_adjust_head -20) to
 *     the backend, which decapsulates and answers the client directly (DSR);
 *   - DNAT (LB_VIP_F_DNAT): rewrite the destination address in place and patch
 *     the IPv4 and L4 checksums incrementally.
 * Either way the frame goes back out the port it came in on (XDP_TX).
 *
 * Written to stay inside what the Netronome eBPF firmware accepts: HASH and
 * ARRAY maps, helpers 1 and 44, no MOD (ring sizes are powers of two and the
 * hash is masked), no multiply, no bpf-to-bpf calls (all inline), only atomic
 * adds into map values.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <iop_chain.h>

#define LB_VIP_F_DNAT 0x1
#define LB_MAX_BACKENDS 4096
#define LB_OUTER_TTL 64

struct vip_key {
	__be32 addr;
	__be16 port;
	__u8 proto;
	__u8 pad;
};

struct vip_meta {
	__u32 flags;
	__u32 ring_base; /* first slot of this VIP's ring in lb_backends */
	__u32 ring_mask; /* ring size - 1; ring size is a power of two */
	__u32 pad;
};

struct backend {
	__be32 addr;
	__u8 mac[ETH_ALEN];
	__u16 pad;
};

struct lb_config {
	__be32 local_addr; /* outer source for IPIP; 0 = use the VIP */
	__u32 pad;
};

enum {
	LB_STAT_TX = 0,
	LB_STAT_NO_BACKEND = 1,
	LB_STAT_MAX = 2,
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 512);
	__type(key, struct vip_key);
	__type(value, struct vip_meta);
} lb_vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct backend);
} lb_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_config);
} lb_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} lb_stats SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&lb_stats, &idx);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline __u16 csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/*
 * RFC 1624 incremental update for a 32-bit field. Works on raw (wire-order)
 * words: the one's-complement sum commutes with byte swapping, so no byte-order
 * conversion is needed (and none is emitted).
 */
static __always_inline __u16 csum_replace4(__u16 check, __u32 from, __u32 to)
{
	__u32 s = (__u16)~check;

	s += (__u16)~(from & 0xffff);
	s += (__u16)~(from >> 16);
	s += to & 0xffff;
	s += to >> 16;
	return csum_fold(s);
}

static __always_inline __u32 rol32(__u32 w, unsigned int s)
{
	return (w << s) | (w >> (32 - s));
}

/*
 * jhash_3words as in the kernel's <linux/jhash.h> (Bob Jenkins' lookup3 final
 * mix): add, xor and rotate only, so no MUL or MOD reaches the nfp JIT, and
 * every input bit reaches the low bits the ring mask keeps.
 */
static __always_inline __u32 flow_hash(__u32 saddr, __u32 daddr, __u32 ports, __u32 proto)
{
	__u32 init = 0xdeadbeef + (3 << 2);
	__u32 a = saddr + init, b = daddr + init, c = (ports ^ proto) + init;

	c ^= b; c -= rol32(b, 14);
	a ^= c; a -= rol32(c, 11);
	b ^= a; b -= rol32(a, 25);
	c ^= b; c -= rol32(b, 16);
	a ^= c; a -= rol32(c, 4);
	b ^= a; b -= rol32(a, 14);
	c ^= b; c -= rol32(b, 24);
	return c;
}

static __always_inline int l4_lb_verdict(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph;
	__u16 *l4;
	__u32 l4_off;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end || iph->ihl != 5 || iph->version != 4)
		return XDP_PASS; /* options are rare on VIP traffic; the stack can have them */
	if (iph->frag_off & bpf_htons(0x1fff | 0x2000))
		return XDP_PASS; /* fragments carry no (or partial) ports: hash would split the flow */
	if (iph->protocol != IPPROTO_TCP && iph->protocol != IPPROTO_UDP)
		return XDP_PASS;
	l4 = (void *)(iph + 1);
	if ((void *)(l4 + 2) > data_end)
		return XDP_PASS;

	struct vip_key vk = { .addr = iph->daddr, .port = l4[1], .proto = iph->protocol };
	struct vip_meta *vip = bpf_map_lookup_elem(&lb_vips, &vk);

	if (!vip)
		return XDP_PASS;

	__u32 ports = (__u32)l4[0] << 16 | l4[1];
	__u32 slot = vip->ring_base + (flow_hash(iph->saddr, iph->daddr, ports, iph->protocol) & vip->ring_mask);
	struct backend *be = bpf_map_lookup_elem(&lb_backends, &slot);

	if (!be || !be->addr) {
		count(LB_STAT_NO_BACKEND);
		return XDP_DROP;
	}

	__u8 lb_mac[ETH_ALEN];

	__builtin_memcpy(lb_mac, eth->h_dest, ETH_ALEN);

	if (vip->flags & LB_VIP_F_DNAT) {
		__be32 old = iph->daddr;

		iph->daddr = be->addr;
		iph->check = csum_replace4(iph->check, old, be->addr);
		if (iph->protocol == IPPROTO_TCP) {
			struct tcphdr *th = (void *)l4;

			if ((void *)(th + 1) > data_end)
				return XDP_DROP;
			th->check = csum_replace4(th->check, old, be->addr);
		} else {
			struct udphdr *uh = (void *)l4;

			if ((void *)(uh + 1) > data_end)
				return XDP_DROP;
			/* 0 means "no checksum" for UDP over IPv4; a computed 0 is sent as 0xffff */
			if (uh->check) {
				uh->check = csum_replace4(uh->check, old, be->addr);
				if (!uh->check)
					uh->check = 0xffff;
			}
		}
		__builtin_memcpy(eth->h_source, lb_mac, ETH_ALEN);
		__builtin_memcpy(eth->h_dest, be->mac, ETH_ALEN);
		count(LB_STAT_TX);
		return XDP_TX;
	}

	/* IPIP: read what the outer header needs before the head moves. */
	__be32 backend_addr = be->addr;
	__u8 backend_mac[ETH_ALEN];
	__u32 zero = 0;
	struct lb_config *cfg = bpf_map_lookup_elem(&lb_config, &zero);
	__be32 outer_src = cfg && cfg->local_addr ? cfg->local_addr : iph->daddr;
	__u8 tos = iph->tos;
	__u16 inner_len = bpf_ntohs(iph->tot_len);

	__builtin_memcpy(backend_mac, be->mac, ETH_ALEN);
	if (inner_len > 0xffff - sizeof(struct iphdr))
		return XDP_DROP;

	if (bpf_xdp_adjust_head(ctx, 0 - (int)sizeof(struct iphdr)))
		return XDP_DROP;

	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end)
		return XDP_DROP;

	__builtin_memcpy(eth->h_dest, backend_mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, lb_mac, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IP);

	iph->version = 4;
	iph->ihl = 5;
	iph->tos = tos;
	iph->tot_len = bpf_htons(inner_len + sizeof(struct iphdr));
	iph->id = 0;
	iph->frag_off = 0;
	iph->ttl = LB_OUTER_TTL;
	iph->protocol = IPPROTO_IPIP;
	iph->check = 0;
	iph->saddr = outer_src;
	iph->daddr = backend_addr;

	__u16 *w = (void *)iph;
	__u32 s = 0;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(struct iphdr) / 2); i++)
		s += w[i];
	iph->check = csum_fold(s);

	count(LB_STAT_TX);
	return XDP_TX;
}

SEC("xdp")
int l4_lb(struct xdp_md *ctx)
{
	return l4_lb_verdict(ctx);
}

/* On a hook shared with other modules: counted, and a passed packet goes to the next slot. */
IOP_CHAIN_ENTRY(l4_lb_verdict)

char LICENSE[] SEC("license") = "GPL";
