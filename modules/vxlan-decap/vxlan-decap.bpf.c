// SPDX-License-Identifier: GPL-2.0
/*
 * vxlan-decap: terminate VXLAN (RFC 7348) in XDP. An outer
 * Ethernet/IPv4/UDP 4789/VXLAN frame loses its outer 50 bytes (more if the
 * outer IPv4 header has options) and the inner Ethernet frame goes up the
 * stack as if it had arrived bare. Everything else passes untouched.
 *
 * No maps and one helper (bpf_xdp_adjust_head, 44), so it fits the Netronome
 * eBPF firmware: terminating tunnels on the NIC saves the host the parsing.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <iop_chain.h>

#define VXLAN_PORT 4789
#define VXLAN_FLAG_VNI 0x08 /* "I" flag: the VNI field is valid */

struct vxlanhdr {
	__u8 flags;
	__u8 reserved1[3];
	__u8 vni[3];
	__u8 reserved2;
};

static __always_inline int vxlan_decap_verdict(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph;
	struct udphdr *uh;
	struct vxlanhdr *vx;
	struct ethhdr *inner;
	__u32 ip_len;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end || iph->protocol != IPPROTO_UDP || iph->ihl < 5)
		return XDP_PASS;
	if (iph->frag_off & bpf_htons(0x1fff | 0x2000))
		return XDP_PASS; /* a fragmented tunnel packet needs reassembly first */
	ip_len = (__u32)iph->ihl << 2;
	uh = (void *)iph + ip_len;
	if ((void *)(uh + 1) > data_end || uh->dest != bpf_htons(VXLAN_PORT))
		return XDP_PASS;
	vx = (void *)(uh + 1);
	if ((void *)(vx + 1) > data_end || !(vx->flags & VXLAN_FLAG_VNI))
		return XDP_PASS;
	inner = (void *)(vx + 1);
	if ((void *)(inner + 1) > data_end)
		return XDP_DROP; /* a VXLAN header with no frame behind it is garbage */

	if (bpf_xdp_adjust_head(ctx, (int)(sizeof(*eth) + ip_len + sizeof(*uh) + sizeof(*vx))))
		return XDP_DROP;
	return XDP_PASS;
}

SEC("xdp")
int vxlan_decap(struct xdp_md *ctx)
{
	return vxlan_decap_verdict(ctx);
}

/* On a hook shared with other modules: counted, and a passed packet goes to the next slot. */
IOP_CHAIN_ENTRY(vxlan_decap_verdict)

char LICENSE[] SEC("license") = "GPL";
