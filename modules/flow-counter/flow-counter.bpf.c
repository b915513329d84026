// SPDX-License-Identifier: GPL-2.0
/*
 * flow-counter: packets and bytes per IPv4 5-tuple, for telemetry. Never
 * changes a verdict (always PASS), so it can sit in front of anything.
 *
 * The LRU hash keeps the busiest flows when the table is full, which is the
 * point of a flow table, and is also why this module cannot go to the
 * Netronome eBPF firmware (HASH and ARRAY only).
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

struct flow_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport; /* 0 when the protocol has no ports or the packet is a fragment */
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct flow_counters {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 131072);
	__type(key, struct flow_key);
	__type(value, struct flow_counters);
} flow_table SEC(".maps");

/* Slot 0: packets that are not IPv4 (or too short to key), so totals still add up. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flow_counters);
} flow_other SEC(".maps");

static __always_inline int flow_counter_verdict(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 len = data_end - data;
	struct ethhdr *eth = data;
	__u16 proto;
	void *l3;

	if ((void *)(eth + 1) > data_end)
		goto other;
	proto = eth->h_proto;
	l3 = eth + 1;
	if (proto == bpf_htons(ETH_P_8021Q)) {
		struct vlan_hdr *vh = l3;

		if ((void *)(vh + 1) > data_end)
			goto other;
		proto = vh->encap_proto;
		l3 = vh + 1;
	}
	if (proto != bpf_htons(ETH_P_IP))
		goto other;

	struct iphdr *iph = l3;

	if ((void *)(iph + 1) > data_end || iph->ihl < 5)
		goto other;

	struct flow_key key = {
		.saddr = iph->saddr,
		.daddr = iph->daddr,
		.proto = iph->protocol,
	};

	if (!(iph->frag_off & bpf_htons(0x1fff)) &&
	    (iph->protocol == IPPROTO_TCP || iph->protocol == IPPROTO_UDP)) {
		__be16 *ports = (void *)iph + ((__u32)iph->ihl << 2);

		if ((void *)(ports + 2) <= data_end) {
			key.sport = ports[0];
			key.dport = ports[1];
		}
	}

	struct flow_counters *c = bpf_map_lookup_elem(&flow_table, &key);

	if (!c) {
		struct flow_counters init = { .packets = 1, .bytes = len };

		if (!bpf_map_update_elem(&flow_table, &key, &init, BPF_NOEXIST))
			return XDP_PASS;
		/* lost the race to another CPU: add to its entry */
		c = bpf_map_lookup_elem(&flow_table, &key);
		if (!c)
			return XDP_PASS;
	}
	__sync_fetch_and_add(&c->packets, 1);
	__sync_fetch_and_add(&c->bytes, len);
	return XDP_PASS;

other:;
	__u32 zero = 0;
	struct flow_counters *o = bpf_map_lookup_elem(&flow_other, &zero);

	if (o) {
		o->packets += 1;
		o->bytes += len;
	}
	return XDP_PASS;
}

SEC("xdp")
int flow_counter(struct xdp_md *ctx)
{
	return flow_counter_verdict(ctx);
}

/* On a hook shared with other modules: counted, and a passed packet goes to the next slot. */
IOP_CHAIN_ENTRY(flow_counter_verdict)

char LICENSE[] SEC("license") = "GPL";
