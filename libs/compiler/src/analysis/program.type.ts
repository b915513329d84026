import type { ProgramType } from './analysis.types';

/** What libbpf makes of a section name: the program type and the expected attach type it loads with. */
export interface SectionType {
  type: ProgramType;
  /** enum bpf_attach_type name without the BPF_ prefix (`XDP_DEVMAP`, `TCX_INGRESS`), or null when libbpf sets none. */
  attach: string | null;
  /** The libbpf section definition that matched (`xdp/devmap`, `fentry+`), or null for a section libbpf does not know. */
  def: string | null;
}

/**
 * libbpf 1.x section_defs (tools/lib/bpf/libbpf.c), in libbpf's order: the first match wins.
 * `name+` matches `name` or `name/anything`, `name/` matches any `name/anything`, others match exactly
 * (libbpf 1.0 dropped the sloppy prefixes, so `xdp/foo` is a custom section to libbpf).
 */
const SECTION_DEFS: Array<[string, ProgramType, string | null]> = [
  ['socket+', 'socket_filter', null],
  ['sk_reuseport/migrate', 'sk_reuseport', 'SK_REUSEPORT_SELECT_OR_MIGRATE'],
  ['sk_reuseport', 'sk_reuseport', 'SK_REUSEPORT_SELECT'],
  ['kprobe+', 'kprobe', null],
  ['uprobe+', 'kprobe', null],
  ['uprobe.s+', 'kprobe', null],
  ['kretprobe+', 'kprobe', null],
  ['uretprobe+', 'kprobe', null],
  ['uretprobe.s+', 'kprobe', null],
  ['kprobe.multi+', 'kprobe', 'TRACE_KPROBE_MULTI'],
  ['kretprobe.multi+', 'kprobe', 'TRACE_KPROBE_MULTI'],
  ['uprobe.multi+', 'kprobe', 'TRACE_UPROBE_MULTI'],
  ['uretprobe.multi+', 'kprobe', 'TRACE_UPROBE_MULTI'],
  ['ksyscall+', 'kprobe', null],
  ['kretsyscall+', 'kprobe', null],
  ['usdt+', 'kprobe', null],
  ['usdt.s+', 'kprobe', null],
  ['tc/ingress', 'sched_cls', 'TCX_INGRESS'],
  ['tc/egress', 'sched_cls', 'TCX_EGRESS'],
  ['tcx/ingress', 'sched_cls', 'TCX_INGRESS'],
  ['tcx/egress', 'sched_cls', 'TCX_EGRESS'],
  ['tc', 'sched_cls', null],
  ['classifier', 'sched_cls', null],
  ['action', 'sched_act', null],
  ['netkit/primary', 'sched_cls', 'NETKIT_PRIMARY'],
  ['netkit/peer', 'sched_cls', 'NETKIT_PEER'],
  ['tracepoint+', 'tracepoint', null],
  ['tp+', 'tracepoint', null],
  ['raw_tracepoint+', 'raw_tracepoint', null],
  ['raw_tp+', 'raw_tracepoint', null],
  ['raw_tracepoint.w+', 'raw_tracepoint', null],
  ['raw_tp.w+', 'raw_tracepoint', null],
  ['tp_btf+', 'tracing', 'TRACE_RAW_TP'],
  ['fentry+', 'tracing', 'TRACE_FENTRY'],
  ['fmod_ret+', 'tracing', 'MODIFY_RETURN'],
  ['fexit+', 'tracing', 'TRACE_FEXIT'],
  ['fentry.s+', 'tracing', 'TRACE_FENTRY'],
  ['fmod_ret.s+', 'tracing', 'MODIFY_RETURN'],
  ['fexit.s+', 'tracing', 'TRACE_FEXIT'],
  ['freplace+', 'tracing', null],
  ['lsm+', 'lsm', 'LSM_MAC'],
  ['lsm.s+', 'lsm', 'LSM_MAC'],
  ['lsm_cgroup+', 'lsm', 'LSM_CGROUP'],
  ['iter+', 'tracing', 'TRACE_ITER'],
  ['iter.s+', 'tracing', 'TRACE_ITER'],
  ['syscall', 'syscall', null],
  ['xdp.frags/devmap', 'xdp', 'XDP_DEVMAP'],
  ['xdp/devmap', 'xdp', 'XDP_DEVMAP'],
  ['xdp.frags/cpumap', 'xdp', 'XDP_CPUMAP'],
  ['xdp/cpumap', 'xdp', 'XDP_CPUMAP'],
  ['xdp.frags', 'xdp', 'XDP'],
  ['xdp', 'xdp', 'XDP'],
  ['perf_event', 'perf_event', null],
  ['lwt_in', 'lwt', null],
  ['lwt_out', 'lwt', null],
  ['lwt_xmit', 'lwt', null],
  ['lwt_seg6local', 'lwt', null],
  ['sockops', 'cgroup_sock', 'CGROUP_SOCK_OPS'],
  ['sk_skb/stream_parser', 'sk_skb', 'SK_SKB_STREAM_PARSER'],
  ['sk_skb/stream_verdict', 'sk_skb', 'SK_SKB_STREAM_VERDICT'],
  ['sk_skb/verdict', 'sk_skb', 'SK_SKB_VERDICT'],
  ['sk_skb', 'sk_skb', null],
  ['sk_msg', 'sk_msg', 'SK_MSG_VERDICT'],
  ['lirc_mode2', 'unknown', 'LIRC_MODE2'],
  ['flow_dissector', 'flow_dissector', 'FLOW_DISSECTOR'],
  ['cgroup_skb/ingress', 'cgroup_skb', 'CGROUP_INET_INGRESS'],
  ['cgroup_skb/egress', 'cgroup_skb', 'CGROUP_INET_EGRESS'],
  ['cgroup/skb', 'cgroup_skb', null],
  ['cgroup/sock_create', 'cgroup_sock', 'CGROUP_INET_SOCK_CREATE'],
  ['cgroup/sock_release', 'cgroup_sock', 'CGROUP_INET_SOCK_RELEASE'],
  ['cgroup/sock', 'cgroup_sock', 'CGROUP_INET_SOCK_CREATE'],
  ['cgroup/post_bind4', 'cgroup_sock', 'CGROUP_INET4_POST_BIND'],
  ['cgroup/post_bind6', 'cgroup_sock', 'CGROUP_INET6_POST_BIND'],
  ['cgroup/bind4', 'cgroup_sock_addr', 'CGROUP_INET4_BIND'],
  ['cgroup/bind6', 'cgroup_sock_addr', 'CGROUP_INET6_BIND'],
  ['cgroup/connect4', 'cgroup_sock_addr', 'CGROUP_INET4_CONNECT'],
  ['cgroup/connect6', 'cgroup_sock_addr', 'CGROUP_INET6_CONNECT'],
  ['cgroup/connect_unix', 'cgroup_sock_addr', 'CGROUP_UNIX_CONNECT'],
  ['cgroup/sendmsg4', 'cgroup_sock_addr', 'CGROUP_UDP4_SENDMSG'],
  ['cgroup/sendmsg6', 'cgroup_sock_addr', 'CGROUP_UDP6_SENDMSG'],
  ['cgroup/sendmsg_unix', 'cgroup_sock_addr', 'CGROUP_UNIX_SENDMSG'],
  ['cgroup/recvmsg4', 'cgroup_sock_addr', 'CGROUP_UDP4_RECVMSG'],
  ['cgroup/recvmsg6', 'cgroup_sock_addr', 'CGROUP_UDP6_RECVMSG'],
  ['cgroup/recvmsg_unix', 'cgroup_sock_addr', 'CGROUP_UNIX_RECVMSG'],
  ['cgroup/getpeername4', 'cgroup_sock_addr', 'CGROUP_INET4_GETPEERNAME'],
  ['cgroup/getpeername6', 'cgroup_sock_addr', 'CGROUP_INET6_GETPEERNAME'],
  ['cgroup/getpeername_unix', 'cgroup_sock_addr', 'CGROUP_UNIX_GETPEERNAME'],
  ['cgroup/getsockname4', 'cgroup_sock_addr', 'CGROUP_INET4_GETSOCKNAME'],
  ['cgroup/getsockname6', 'cgroup_sock_addr', 'CGROUP_INET6_GETSOCKNAME'],
  ['cgroup/getsockname_unix', 'cgroup_sock_addr', 'CGROUP_UNIX_GETSOCKNAME'],
  ['cgroup/sysctl', 'cgroup_sysctl', 'CGROUP_SYSCTL'],
  ['cgroup/getsockopt', 'cgroup_sockopt', 'CGROUP_GETSOCKOPT'],
  ['cgroup/setsockopt', 'cgroup_sockopt', 'CGROUP_SETSOCKOPT'],
  ['cgroup/dev', 'cgroup_device', 'CGROUP_DEVICE'],
  ['struct_ops+', 'struct_ops', null],
  ['struct_ops.s+', 'struct_ops', null],
  ['sk_lookup', 'sk_lookup', 'SK_LOOKUP'],
  ['netfilter', 'netfilter', 'NETFILTER'],
];

function matches(def: string, section: string): boolean {
  if (def.endsWith('/')) return section.startsWith(def);
  if (def.endsWith('+')) {
    const base = def.slice(0, -1);
    return section === base || section.startsWith(`${base}/`);
  }
  return section === def;
}

/** libbpf's reading of a section name; `.text` is a subprogram; anything libbpf does not know is `unknown`. */
export function sectionType(section: string): SectionType {
  if (section === '.text') return { type: 'subprogram', attach: null, def: null };
  const hit = SECTION_DEFS.find(([def]) => matches(def, section));
  return hit ? { type: hit[1], attach: hit[2], def: hit[0] } : { type: 'unknown', attach: null, def: null };
}

export function programTypeOf(section: string): ProgramType {
  return sectionType(section).type;
}

/**
 * A type given by the manifest or `--type`, spelled as libbpf spells sections (`xdp`, `xdp/devmap`,
 * `tc`, `tcx/ingress`, `classifier`...), which is also what `bpftool prog load ... type` takes.
 * Undefined when libbpf would not recognise it.
 */
export function typeFromName(name: string): SectionType | undefined {
  const t = sectionType(name);
  return t.def && t.type !== 'unknown' ? t : undefined;
}

/** The section-style names a user may give as a type, for error messages. */
export const COMMON_TYPE_NAMES = [
  'xdp',
  'xdp.frags',
  'xdp/devmap',
  'xdp/cpumap',
  'tc',
  'tcx/ingress',
  'tcx/egress',
  'classifier',
  'action',
];

/** ctx offsets whose load yields a packet pointer (xdp_md.data/data_meta, __sk_buff.data/data_meta). */
export const PACKET_POINTER_CTX_OFFSETS: Partial<Record<ProgramType, number[]>> = {
  xdp: [0, 8],
  sched_cls: [76, 140],
  sched_act: [76, 140],
};
