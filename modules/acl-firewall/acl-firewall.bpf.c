// SPDX-License-Identifier: GPL-2.0
/*
 * acl-firewall: stateless ACL keyed by (IP protocol, destination port).
 * No rule means PASS, so an empty table is a no-op and rules can be pushed
 * before traffic is steered here. Rules count their own hits.
 *
 * Offload-friendly by construction: one HASH map, helper 1 only, hit counters
 * bumped with atomic add (the only store into a map value the nfp allows).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <iop_chain.h>

struct vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

struct acl_key {
	__u8 proto;  /* IPPROTO_* */
	__u8 pad;
	__be16 port; /* destination port, network order; 0 for ICMP and other protocols */
};

struct acl_rule {
	__u32 action; /* XDP_DROP or XDP_PASS; anything else is treated as PASS */
	__u32 pad;
	__u64 hits;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct acl_key);
	__type(value, struct acl_rule);
} acl_rules SEC(".maps");

static __always_inline int acl_firewall_verdict(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u16 proto;
	void *l3;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	proto = eth->h_proto;
	l3 = eth + 1;
	if (proto == bpf_htons(ETH_P_8021Q)) {
		struct vlan_hdr *vh = l3;

		if ((void *)(vh + 1) > data_end)
			return XDP_DROP;
		proto = vh->encap_proto;
		l3 = vh + 1;
	}
	if (proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;

	struct iphdr *iph = l3;

	if ((void *)(iph + 1) > data_end || iph->ihl < 5)
		return XDP_DROP;

	struct acl_key key = { .proto = iph->protocol };

	/* Non-first fragments have no L4 header; they are matched on protocol alone. */
	if (!(iph->frag_off & bpf_htons(0x1fff)) &&
	    (iph->protocol == IPPROTO_TCP || iph->protocol == IPPROTO_UDP)) {
		/* ihl is 4 bits, so the offset is bounded and the verifier can follow it */
		__u16 *ports = (void *)iph + ((__u32)iph->ihl << 2);

		if ((void *)(ports + 2) > data_end)
			return XDP_DROP; /* claims TCP/UDP but cannot hold the ports */
		key.port = ports[1];
	}

	struct acl_rule *rule = bpf_map_lookup_elem(&acl_rules, &key);

	if (!rule)
		return XDP_PASS;
	__sync_fetch_and_add(&rule->hits, 1);
	return rule->action == XDP_DROP ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int acl_firewall(struct xdp_md *ctx)
{
	return acl_firewall_verdict(ctx);
}

/* On a hook shared with other modules: counted, and a passed packet goes to the next slot. */
IOP_CHAIN_ENTRY(acl_firewall_verdict)

char LICENSE[] SEC("license") = "GPL";
