// SPDX-License-Identifier: GPL-2.0
/*
 * A software flow table at tc ingress: the match-action forms of a port's flow modules, run on
 * the real packets where the kernel has no cls_flower. Semantics are those of flowerVerdict
 * (libs/devices/src/hardware/flower.rules.ts): per module, first matching rule in order wins,
 * no match passes; a module whose form is not VLAN-aware lets 802.1Q frames through untouched.
 * A packet a module drops reaches neither the next module nor the stage's forwarding.
 * The agent fills iop_flow_rules, iop_flow_modules and iop_flow_meta, and reads the counters.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define IOP_FLOW_MODULES 32
#define IOP_FLOW_RULES 1024

#define F_PROTO 1
#define F_SPORT 2
#define F_DPORT 4
#define A_DROP 1

/* Addresses, masks and ports in network order, as they sit in the packet. */
struct iop_flow_rule {
	__u32 src;
	__u32 src_mask;
	__u32 dst;
	__u32 dst_mask;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 flags;
	__u8 action;
	__u8 pad;
};

struct iop_flow_module {
	__u32 first;
	__u32 count;
	__u32 vlan;
	__u32 pad;
};

struct iop_flow_meta {
	__u32 modules;
	__u32 pad;
};

/* Per module: packets that reached its rules, their bytes, drops, passes. */
struct iop_flow_stat {
	__u64 packets;
	__u64 bytes;
	__u64 drops;
	__u64 passed;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IOP_FLOW_RULES);
	__type(key, __u32);
	__type(value, struct iop_flow_rule);
} iop_flow_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IOP_FLOW_MODULES);
	__type(key, __u32);
	__type(value, struct iop_flow_module);
} iop_flow_modules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct iop_flow_meta);
} iop_flow_meta SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IOP_FLOW_MODULES);
	__type(key, __u32);
	__type(value, struct iop_flow_stat);
} iop_flow_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IOP_FLOW_RULES);
	__type(key, __u32);
	__type(value, __u64);
} iop_flow_hits SEC(".maps");

struct walk {
	__u32 src, dst;
	__u16 sport, dport;
	__u8 proto, ip, vlan, dropped;
	__u32 module, nmodules, rule, end, len;
};

static __always_inline int enter(struct walk *w)
{
	__u32 m = w->module;
	struct iop_flow_module *mod = bpf_map_lookup_elem(&iop_flow_modules, &m);
	struct iop_flow_stat *s = bpf_map_lookup_elem(&iop_flow_stats, &m);

	if (!mod || !s)
		return 1;
	s->packets++;
	s->bytes += w->len;
	w->rule = mod->first;
	/* flower's rules are `protocol ip` (and 802.1Q only for a VLAN-aware form): nothing else matches. */
	w->end = (!w->ip || (w->vlan && !mod->vlan)) ? mod->first : mod->first + mod->count;
	return 0;
}

static __always_inline void leave(struct walk *w)
{
	__u32 m = w->module;
	struct iop_flow_stat *s = bpf_map_lookup_elem(&iop_flow_stats, &m);

	if (s)
		s->passed++;
	w->module++;
}

/* One step: enter the next module, or try one rule of the current one. */
static long step(__u32 i, void *ctx)
{
	struct walk *w = ctx;
	struct iop_flow_rule *r;
	__u32 k;
	__u64 *hit;

	if (w->rule >= w->end) {
		if (i > 0)
			leave(w);
		if (w->module >= w->nmodules || w->module >= IOP_FLOW_MODULES)
			return 1;
		return enter(w);
	}
	k = w->rule;
	r = bpf_map_lookup_elem(&iop_flow_rules, &k);
	if (!r)
		return 1;
	if (((r->flags & F_PROTO) && r->proto != w->proto) || (w->src & r->src_mask) != r->src ||
	    (w->dst & r->dst_mask) != r->dst || ((r->flags & F_SPORT) && r->sport != w->sport) ||
	    ((r->flags & F_DPORT) && r->dport != w->dport)) {
		w->rule++;
		return 0;
	}
	hit = bpf_map_lookup_elem(&iop_flow_hits, &k);
	if (hit)
		(*hit)++;
	if (r->action == A_DROP) {
		__u32 m = w->module;
		struct iop_flow_stat *s = bpf_map_lookup_elem(&iop_flow_stats, &m);

		if (s)
			s->drops++;
		w->dropped = 1;
		return 1;
	}
	/* pass ends this module's rules; the packet goes on to the next module. */
	w->rule = w->end;
	return 0;
}

SEC("tc")
int iop_flow_table(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct walk w = {};
	struct iop_flow_meta *meta;
	__u32 zero = 0, off = sizeof(*eth);
	__u16 proto;

	meta = bpf_map_lookup_elem(&iop_flow_meta, &zero);
	if (!meta || !meta->modules)
		return TC_ACT_OK;
	w.nmodules = meta->modules;
	w.len = skb->len;
	w.rule = w.end = 0;
	if ((void *)(eth + 1) > end)
		goto walk;
	proto = eth->h_proto;
	/* A veth may hand the tag over out of band (vlan offload) or keep it in the frame. */
	if (skb->vlan_present) {
		w.vlan = 1;
	} else if (proto == bpf_htons(ETH_P_8021Q)) {
		__u16 *inner = data + off + 2;

		if ((void *)(inner + 1) > end)
			goto walk;
		w.vlan = 1;
		proto = *inner;
		off += 4;
	}
	if (proto != bpf_htons(ETH_P_IP))
		goto walk;
	{
		struct iphdr *iph = data + off;
		__u32 ihl;

		if ((void *)(iph + 1) > end)
			goto walk;
		w.ip = 1;
		w.src = iph->saddr;
		w.dst = iph->daddr;
		w.proto = iph->protocol;
		ihl = iph->ihl * 4;
		/* Ports, as the flow dissector takes them: only from a first fragment that holds them. */
		if ((w.proto == 6 || w.proto == 17) && !(iph->frag_off & bpf_htons(0x1fff)) && ihl >= 20 && ihl <= 60) {
			__u16 *ports = data + off + ihl;

			if ((void *)(ports + 2) <= end) {
				w.sport = ports[0];
				w.dport = ports[1];
			}
		}
	}
walk:
	bpf_loop(IOP_FLOW_MODULES + IOP_FLOW_RULES + 1, step, &w, 0);
	return w.dropped ? TC_ACT_SHOT : TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
