// SPDX-License-Identifier: GPL-2.0
/*
 * ttl-guard: an XDP fast-path router front end. IPv4 packets whose TTL would
 * expire here are dropped before the stack spends time generating ICMP time
 * exceeded for floods (traceroute still works: set TTL_GUARD_PASS_EXPIRED to
 * hand them up instead). Everything else is looked up in the kernel FIB with
 * bpf_fib_lookup: a forwardable packet gets its TTL decremented, its MACs set
 * from the neighbour table and is redirected straight to the egress device;
 * local, unreachable or unresolved destinations go up the stack unchanged.
 *
 * Host only by design: bpf_fib_lookup (69) and bpf_redirect (23) need the
 * kernel's routing tables and netdevs, which no NIC or DPU firmware has.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <iop_chain.h>

#ifndef AF_INET
#define AF_INET 2
#endif

enum {
	TG_STAT_EXPIRED = 0,
	TG_STAT_FORWARDED = 1,
	TG_STAT_TO_STACK = 2,
	TG_STAT_MAX = 3,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TG_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} tg_stats SEC(".maps");

static __always_inline int verdict(__u32 stat, int action)
{
	__u64 *v = bpf_map_lookup_elem(&tg_stats, &stat);

	if (v)
		*v += 1;
	return action;
}

static __always_inline int ttl_guard_verdict(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end || iph->ihl < 5)
		return XDP_PASS;

	if (iph->ttl <= 1) {
#ifdef TTL_GUARD_PASS_EXPIRED
		return verdict(TG_STAT_EXPIRED, XDP_PASS);
#else
		return verdict(TG_STAT_EXPIRED, XDP_DROP);
#endif
	}

	struct bpf_fib_lookup fib = {
		.family = AF_INET,
		.tos = iph->tos,
		.l4_protocol = iph->protocol,
		.tot_len = bpf_ntohs(iph->tot_len),
		.ipv4_src = iph->saddr,
		.ipv4_dst = iph->daddr,
		.ifindex = ctx->ingress_ifindex,
	};

	if (bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_SUCCESS)
		return verdict(TG_STAT_TO_STACK, XDP_PASS);

	/* TTL is the high byte of the 16-bit word it shares with protocol: -1 there is +0x0100 in the sum */
	__u32 check = iph->check;

	check += bpf_htons(0x0100);
	iph->check = (__u16)(check + (check >= 0xffff));
	iph->ttl--;
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
	return verdict(TG_STAT_FORWARDED, bpf_redirect(fib.ifindex, 0));
}

SEC("xdp")
int ttl_guard(struct xdp_md *ctx)
{
	return ttl_guard_verdict(ctx);
}

/* On a hook shared with other modules: counted, and a passed packet goes to the next slot. */
IOP_CHAIN_ENTRY(ttl_guard_verdict)

char LICENSE[] SEC("license") = "GPL";
