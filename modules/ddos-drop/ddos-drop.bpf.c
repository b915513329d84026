// SPDX-License-Identifier: GPL-2.0
/*
 * ddos-drop: drop IPv4 packets whose source address falls in a blocklisted
 * prefix. Prefixes live in an LPM trie so one lookup covers /8 .. /32 entries;
 * the trie is what keeps this module off Netronome offload (HASH/ARRAY only).
 * Malformed IPv4 is dropped too: a truncated header is a common flood shape and
 * passing it on only costs the stack time to reject it.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <iop_chain.h>

/* uapi has no 802.1Q header struct; the kernel's lives in a non-uapi header. */
struct vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

struct lpm_v4_key {
	__u32 prefixlen; /* host order, 0..32 */
	__be32 addr;     /* network order, as on the wire */
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* the kernel requires it for LPM tries */
	__type(key, struct lpm_v4_key);
	__type(value, __u32); /* operator's list id, reported with the drop */
} ddos_blocklist SEC(".maps");

enum {
	STAT_DROP_LISTED = 0,
	STAT_DROP_MALFORMED = 1,
	STAT_PASS = 2,
	STAT_MAX = 3,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} ddos_stats SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&ddos_stats, &idx);

	/* per-CPU slot: no other CPU writes it, so a plain add is exact */
	if (v)
		*v += 1;
}

static __always_inline int ddos_drop_verdict(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u16 proto;
	void *l3;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS; /* not even Ethernet: not ours to judge */
	proto = eth->h_proto;
	l3 = eth + 1;
	if (proto == bpf_htons(ETH_P_8021Q)) {
		struct vlan_hdr *vh = l3;

		if ((void *)(vh + 1) > data_end) {
			count(STAT_DROP_MALFORMED);
			return XDP_DROP;
		}
		proto = vh->encap_proto;
		l3 = vh + 1;
	}
	if (proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;

	struct iphdr *iph = l3;

	if ((void *)(iph + 1) > data_end || iph->version != 4 || iph->ihl < 5) {
		count(STAT_DROP_MALFORMED);
		return XDP_DROP;
	}

	struct lpm_v4_key key = { .prefixlen = 32, .addr = iph->saddr };

	if (bpf_map_lookup_elem(&ddos_blocklist, &key)) {
		count(STAT_DROP_LISTED);
		return XDP_DROP;
	}
	count(STAT_PASS);
	return XDP_PASS;
}

SEC("xdp")
int ddos_drop(struct xdp_md *ctx)
{
	return ddos_drop_verdict(ctx);
}

/* On a hook shared with other modules: counted, and a passed packet goes to the next slot. */
IOP_CHAIN_ENTRY(ddos_drop_verdict)

char LICENSE[] SEC("license") = "GPL";
