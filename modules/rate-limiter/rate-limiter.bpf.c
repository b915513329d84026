// SPDX-License-Identifier: GPL-2.0
/*
 * rate-limiter: token bucket per IPv4 source. Each source may send `burst`
 * packets at once and `rate_pps` packets per second sustained; the rest are
 * dropped.
 *
 * The bucket is kept in its GCRA form (the "virtual scheduling" policer of
 * ATM, ITU-T I.371: one theoretical arrival time per source instead of a token
 * count and a timestamp, with the same pass/drop decisions): a packet passes
 * if the source's TAT is no more than (burst - 1) intervals ahead of now, and
 * passing pushes the TAT one interval further. That needs a single u64 per
 * source and only an atomic add to update it, because the kernel refuses
 * spin locks in LRU maps and the default BPF CPU (v1) has no compare-and-swap.
 * Two CPUs racing on one source can each let a packet through: the limit is
 * exact per CPU and approximate by at most the number of CPUs, which is the
 * usual trade for a lock-free policer.
 *
 * Buckets live in an LRU hash so a spoofed-source flood evicts old buckets
 * instead of filling the table.
 *
 * Host/DPU only: ktime (helper 5) and LRU maps are outside what the Netronome
 * eBPF firmware accepts, and so is the 64-bit divide by a runtime rate.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <iop_chain.h>

#define NSEC_PER_SEC 1000000000ULL
#define RL_DEFAULT_RATE_PPS 1000
#define RL_DEFAULT_BURST 100
#define RL_MAX_BURST 1000000U

struct rl_config {
	__u32 rate_pps; /* sustained packets per second; 0 is read as 1 */
	__u32 burst;    /* packets allowed back to back; 0 = use the built-in defaults */
};

struct rl_bucket {
	__u64 tat_ns; /* theoretical arrival time of the next conforming packet */
};

enum {
	RL_STAT_PASS = 0,
	RL_STAT_DROP = 1,
	RL_STAT_MAX = 2,
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, __be32);
	__type(value, struct rl_bucket);
} rl_buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rl_config);
} rl_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RL_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} rl_stats SEC(".maps");

static __always_inline int verdict(__u32 stat, int action)
{
	__u64 *v = bpf_map_lookup_elem(&rl_stats, &stat);

	if (v)
		*v += 1;
	return action;
}

static __always_inline int rate_limiter_verdict(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;

	__u32 zero = 0;
	__u64 rate = RL_DEFAULT_RATE_PPS;
	__u64 burst = RL_DEFAULT_BURST;
	struct rl_config *cfg = bpf_map_lookup_elem(&rl_config, &zero);

	if (cfg && cfg->burst) {
		burst = cfg->burst > RL_MAX_BURST ? RL_MAX_BURST : cfg->burst;
		rate = cfg->rate_pps ? cfg->rate_pps : 1;
	}

	__u64 interval = NSEC_PER_SEC / rate;
	__u64 tolerance = (burst - 1) * interval;
	__be32 src = iph->saddr;
	__u64 now = bpf_ktime_get_ns();
	struct rl_bucket *b = bpf_map_lookup_elem(&rl_buckets, &src);

	if (!b) {
		struct rl_bucket fresh = { .tat_ns = now + interval };

		/* BPF_ANY: if another CPU created it meanwhile, restarting its bucket is harmless */
		bpf_map_update_elem(&rl_buckets, &src, &fresh, BPF_ANY);
		return verdict(RL_STAT_PASS, XDP_PASS);
	}

	__u64 tat = b->tat_ns;

	if (tat <= now) {
		/* idle long enough to have a full bucket again */
		b->tat_ns = now + interval;
		return verdict(RL_STAT_PASS, XDP_PASS);
	}
	if (tat - now > tolerance)
		return verdict(RL_STAT_DROP, XDP_DROP);
	__sync_fetch_and_add(&b->tat_ns, interval);
	return verdict(RL_STAT_PASS, XDP_PASS);
}

SEC("xdp")
int rate_limiter(struct xdp_md *ctx)
{
	return rate_limiter_verdict(ctx);
}

/* On a hook shared with other modules: counted, and a passed packet goes to the next slot. */
IOP_CHAIN_ENTRY(rate_limiter_verdict)

char LICENSE[] SEC("license") = "GPL";
