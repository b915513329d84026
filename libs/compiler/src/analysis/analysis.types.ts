import type { AtomicOpName } from '../elf/bpf.insn';

/** Where something happens: the function, its section, and the slot index llvm-objdump prints for that section. */
export interface InsnRef {
  insn: number;
  function: string;
  section: string;
}

export type ProgramType =
  | 'xdp' | 'sched_cls' | 'sched_act' | 'socket_filter' | 'kprobe' | 'tracepoint' | 'raw_tracepoint' | 'tracing'
  | 'perf_event' | 'cgroup_skb' | 'cgroup_sock' | 'cgroup_sock_addr' | 'cgroup_sockopt' | 'cgroup_sysctl'
  | 'cgroup_device' | 'sk_skb' | 'sk_msg' | 'sk_lookup' | 'sk_reuseport' | 'lwt' | 'flow_dissector' | 'lsm'
  | 'struct_ops' | 'syscall' | 'netfilter' | 'subprogram' | 'unknown';

export interface HelperUse {
  id: number;
  name: string;
  sites: InsnRef[];
}

export interface CallSite extends InsnRef {
  /** Called function name, or the kfunc's extern symbol. */
  target: string;
}

export interface MapUse {
  name: string;
  sites: InsnRef[];
}

export interface AtomicSite extends InsnRef {
  op: AtomicOpName;
  fetch: boolean;
  width: 32 | 64;
  opcode: number;
}

export interface BackEdge extends InsnRef {
  /** Slot the jump lands on (<= insn). */
  target: number;
}

export interface PacketRewrite extends InsnRef {
  /** `helper` for adjust_head/tail/meta and store helpers; `store` for a direct write through a packet pointer. */
  kind: 'helper' | 'store';
  helper?: string;
}

export interface OpcodeUse {
  opcode: number;
  mnemonic: string;
  sites: InsnRef[];
}

export interface XdpReturns {
  /** Constant values r0 can hold at some exit. */
  constants: number[];
  /** True when some exit returns a value not known statically (helper result, loaded value). */
  unknown: boolean;
  /** True when the program calls bpf_redirect / bpf_redirect_map, whose result is XDP_REDIRECT. */
  redirects: boolean;
}

export interface MapFacts {
  name: string;
  type: number;
  typeName: string;
  maxEntries: number;
  keySize: number;
  valueSize: number;
  mapFlags: number;
  keyType?: string;
  valueType?: string;
  /** `.data`, `.rodata`, `.bss`: libbpf turns these into single-entry ARRAY maps. */
  internal: boolean;
  /** Where the definition came from; `none` means only referenced, attributes unknown. */
  source: 'btf' | 'legacy' | 'section' | 'none';
  perCpu: boolean;
  /** maxEntries x (key + value) (x cpus for per-CPU values): the figure device budgets are stated in. */
  bytes: number;
  /** Kernel allocation estimate including per-entry overhead (see hostMapBytes). */
  hostBytes: number;
}

export interface ProgramFacts {
  name: string;
  section: string;
  type: ProgramType;
  /** This program's own function first, then reachable subprograms. */
  functions: string[];
  /** Instructions of the program's own function (slots minus ld_imm64 second halves). */
  instructions: number;
  /** Instructions including every reachable subprogram: what gets loaded. */
  totalInstructions: number;
  /** Own frame depth in bytes (most negative r10 offset touched). */
  stackBytes: number;
  /** Deepest sum of frame depths along any call chain from this program. */
  maxStackDepth: number;
  helpers: HelperUse[];
  bpfCalls: CallSite[];
  kfuncCalls: CallSite[];
  maps: MapUse[];
  backEdges: BackEdge[];
  tailCalls: InsnRef[];
  atomics: AtomicSite[];
  packetRewrites: PacketRewrite[];
  opcodes: OpcodeUse[];
  xdpReturns: XdpReturns | null;
}

export interface ObjectFacts {
  license: string | null;
  /** Entry programs (code sections other than .text). */
  programs: ProgramFacts[];
  /** Subprograms in .text, analysed alone (their facts are folded into the programs that call them). */
  subprograms: ProgramFacts[];
  maps: MapFacts[];
  btf: boolean;
  warnings: string[];
}

export interface AnalyzeOptions {
  /** Pre-decoded BTF map definitions; skips bpftool. */
  btf?: import('./btf.maps').BtfMapInfo[];
  /** CPU count used for per-CPU map sizes (default 1). */
  cpus?: number;
}
