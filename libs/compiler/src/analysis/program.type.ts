import type { ProgramType } from './analysis.types';

/** Section name prefixes as libbpf's section_defs spell them; first match wins, so longer prefixes come first. */
const SECTION_PREFIXES: Array<[string, ProgramType]> = [
  ['xdp', 'xdp'],
  ['tcx', 'sched_cls'], ['tc', 'sched_cls'], ['classifier', 'sched_cls'], ['netkit', 'sched_cls'],
  ['action', 'sched_act'],
  ['socket', 'socket_filter'],
  ['kprobe', 'kprobe'], ['kretprobe', 'kprobe'], ['uprobe', 'kprobe'], ['uretprobe', 'kprobe'], ['ksyscall', 'kprobe'], ['usdt', 'kprobe'],
  ['tracepoint', 'tracepoint'], ['tp', 'tracepoint'],
  ['raw_tracepoint', 'raw_tracepoint'], ['raw_tp', 'raw_tracepoint'], ['tp_btf', 'tracing'],
  ['fentry', 'tracing'], ['fexit', 'tracing'], ['fmod_ret', 'tracing'], ['iter', 'tracing'],
  ['perf_event', 'perf_event'],
  ['cgroup_skb', 'cgroup_skb'], ['cgroup/skb', 'cgroup_skb'],
  ['cgroup/sock_create', 'cgroup_sock'], ['cgroup/sock_release', 'cgroup_sock'], ['cgroup/post_bind', 'cgroup_sock'],
  ['cgroup/sysctl', 'cgroup_sysctl'], ['cgroup/getsockopt', 'cgroup_sockopt'], ['cgroup/setsockopt', 'cgroup_sockopt'],
  ['cgroup/dev', 'cgroup_device'], ['cgroup/', 'cgroup_sock_addr'],
  ['sk_skb', 'sk_skb'], ['sk_msg', 'sk_msg'], ['sk_lookup', 'sk_lookup'], ['sk_reuseport', 'sk_reuseport'],
  ['lwt_', 'lwt'], ['flow_dissector', 'flow_dissector'],
  ['lsm', 'lsm'], ['struct_ops', 'struct_ops'], ['syscall', 'syscall'], ['netfilter', 'netfilter'],
];

export function programTypeOf(section: string): ProgramType {
  if (section === '.text') return 'subprogram';
  for (const [prefix, type] of SECTION_PREFIXES) {
    const exact = !prefix.endsWith('/') && !prefix.endsWith('_');
    if (section === prefix || section.startsWith(exact ? `${prefix}/` : prefix) || (exact && section.startsWith(`${prefix}.`))) {
      return type;
    }
  }
  return 'unknown';
}

/** ctx offsets whose load yields a packet pointer (xdp_md.data/data_meta, __sk_buff.data/data_meta). */
export const PACKET_POINTER_CTX_OFFSETS: Partial<Record<ProgramType, number[]>> = {
  xdp: [0, 8],
  sched_cls: [76, 140],
  sched_act: [76, 140],
};
