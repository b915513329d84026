/* SPDX-License-Identifier: GPL-2.0 */
/*
 * iop_chain.h: the epilogue that lets a module run in a chain of several modules on one XDP hook.
 *
 * On kernels that refuse BPF_PROG_TYPE_EXT (freplace), ioplane chains modules by tail calls: a
 * root program enters slot 0 of a BPF_MAP_TYPE_PROG_ARRAY, and since a tail call never returns,
 * each module must itself hand the packet on. A module keeps its program as it was (renamed to a
 * static __always_inline function) and adds one line:
 *
 *     IOP_CHAIN_ENTRY(my_module_verdict)
 *
 * which defines a second XDP program, `iop_chain_entry`, in section "xdp.iop_chain": it runs the
 * module, counts the packet and its verdict in the hook's counter map, and on XDP_PASS tail-calls
 * the next slot. When there is no next slot (last module, or the module loaded on its own to run
 * its test vectors) the tail call falls through and the verdict is returned, so the module's own
 * vectors pass unchanged. The module's standalone program stays free of tail calls and of these
 * maps, so offload verifiers judge it as before.
 *
 * The agent sets `iop_chain_slot` before load and shares the two maps below across the chain
 * (the program array is new for every chain; the counters belong to the hook and outlive chains).
 * Modules name it `#include <iop_chain.h>`: every build gets this one file beside the module's own
 * (libs/compiler sdk.headers.ts), and its bytes are part of the build digest.
 */
#ifndef IOP_CHAIN_H
#define IOP_CHAIN_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Modules per hook. The kernel allows 33 tail calls per packet; the root uses one to enter slot 0
 * and each module one to enter the next, so 32 modules reach the last slot with one to spare. */
#define IOP_CHAIN_SLOTS 32
/* Counter row of the hook itself (written by the root): packets that entered the hook. */
#define IOP_CHAIN_HOOK_ROW IOP_CHAIN_SLOTS

/* One counter row, summed over CPUs by the agent. */
struct iop_chain_stat {
	__u64 packets; /* packets that reached the slot (hook row: entered the hook) */
	__u64 bytes;   /* their length as the slot received them */
	__u64 passed;  /* XDP_PASS: handed to the next slot, or to the stack after the last */
	__u64 dropped; /* XDP_DROP and XDP_ABORTED: never reach a later slot */
	__u64 other;   /* XDP_TX, XDP_REDIRECT: leave the chain */
	__u64 missed;  /* hook row only: the root found no module in slot 0 and passed the packet */
	__u64 ns;      /* time in the slot: from the previous slot's hand-off (or the root) to its verdict */
	__u64 stamp;   /* hook row only, per CPU: when the current packet's last hand-off happened */
};

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, IOP_CHAIN_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} iop_chain_progs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IOP_CHAIN_SLOTS + 1);
	__type(key, __u32);
	__type(value, struct iop_chain_stat);
} iop_chain_stats SEC(".maps");

/* Written by the agent into .rodata before load; the verifier then sees a constant index. */
const volatile __u32 iop_chain_slot = 0;

static __always_inline void iop_chain_count(__u32 row, __u64 len, int verdict)
{
	struct iop_chain_stat *s = bpf_map_lookup_elem(&iop_chain_stats, &row);

	if (!s)
		return;
	/* per-CPU row: no other CPU writes it, so plain adds are exact */
	s->packets++;
	s->bytes += len;
	if (verdict == XDP_PASS)
		s->passed++;
	else if (verdict == XDP_DROP || verdict == XDP_ABORTED)
		s->dropped++;
	else
		s->other++;
}

/* A packet's chain runs to its end on one CPU before the next packet starts there, so the hook
 * row's per-CPU stamp is this packet's: the time since it is what this module cost. A stamp of 0
 * means no packet is in the chain on this CPU: the slot was entered directly (the agent runs a
 * module's test vectors on its live slot), so there is no hand-off to time it from. */
static __always_inline void iop_chain_time(__u32 slot)
{
	__u32 hook = IOP_CHAIN_HOOK_ROW;
	struct iop_chain_stat *h = bpf_map_lookup_elem(&iop_chain_stats, &hook);
	struct iop_chain_stat *s = bpf_map_lookup_elem(&iop_chain_stats, &slot);
	__u64 now = bpf_ktime_get_ns();

	if (!h || !s)
		return;
	if (h->stamp && now > h->stamp)
		s->ns += now - h->stamp;
	h->stamp = now;
}

/* The packet leaves the chain: a slot entered later on this CPU without the root (a test run)
 * must not take this packet's stamp as its own hand-off and count the idle time since. */
static __always_inline void iop_chain_end(void)
{
	__u32 hook = IOP_CHAIN_HOOK_ROW;
	struct iop_chain_stat *h = bpf_map_lookup_elem(&iop_chain_stats, &hook);

	if (h)
		h->stamp = 0;
}

static __always_inline int iop_chain_next(struct xdp_md *ctx, __u64 len, int verdict)
{
	__u32 slot = iop_chain_slot;

	iop_chain_time(slot);
	iop_chain_count(slot, len, verdict);
	if (verdict == XDP_PASS)
		bpf_tail_call(ctx, &iop_chain_progs, slot + 1);
	/* a verdict that ends the chain, or no next slot */
	iop_chain_end();
	return verdict;
}

#define IOP_CHAIN_ENTRY(verdict_fn)                                            \
	SEC("xdp.iop_chain")                                                   \
	int iop_chain_entry(struct xdp_md *ctx)                                \
	{                                                                      \
		__u64 len = ctx->data_end - ctx->data;                         \
		return iop_chain_next(ctx, len, verdict_fn(ctx));              \
	}

#endif /* IOP_CHAIN_H */
