import type { AtomicOpName } from '../elf/bpf.insn';

/** Where something happens: the function, its section, and the slot index llvm-objdump prints for that section. */
export interface InsnRef {
  insn: number;
  function: string;
  section: string;
}

export type ProgramType =
  | 'xdp'
  | 'sched_cls'
  | 'sched_act'
  | 'socket_filter'
  | 'kprobe'
  | 'tracepoint'
  | 'raw_tracepoint'
  | 'tracing'
  | 'perf_event'
  | 'cgroup_skb'
  | 'cgroup_sock'
  | 'cgroup_sock_addr'
  | 'cgroup_sockopt'
  | 'cgroup_sysctl'
  | 'cgroup_device'
  | 'sk_skb'
  | 'sk_msg'
  | 'sk_lookup'
  | 'sk_reuseport'
  | 'lwt'
  | 'flow_dissector'
  | 'lsm'
  | 'struct_ops'
  | 'syscall'
  | 'netfilter'
  | 'subprogram'
  | 'unknown';

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
  /** What the destination register points to. */
  target: PointerKind;
}

/** What a register holds at an instruction, as the straight-line register tracking sees it. */
export type PointerKind = 'ctx' | 'packet' | 'stack' | 'map_value' | 'map_ptr' | 'scalar' | 'unknown';

export interface HelperArg {
  /** r1..r5 */
  reg: number;
  kind: PointerKind;
  /** Frame offset (negative) for stack pointers. */
  stackOffset?: number;
  /** Known scalar value, decimal (u64). */
  value?: string;
  /** Known low 32 bits of a scalar whose high bits are not known, decimal. */
  low32?: string;
  /** Map name for map pointers. */
  map?: string;
}

/** One helper call with what its argument registers hold. */
export interface HelperCall extends InsnRef {
  helper: number;
  args: HelperArg[];
}

export interface CtxAccess extends InsnRef {
  access: 'load' | 'store';
  /** Byte offset into the context struct (xdp_md, __sk_buff). */
  offset: number;
  size: number;
}

/** A multiply, divide or modulo with what is known of its operand widths. */
export interface AluSite extends InsnRef {
  op: 'mul' | 'div' | 'mod';
  width: 32 | 64;
  source: 'imm' | 'reg';
  imm?: number;
  /** The destination's upper bound is known to be <= U32_MAX. */
  dstWithinU32: boolean;
  /** Register source only: bound <= U32_MAX / value known exactly. */
  srcWithinU32: boolean;
  srcConstant: boolean;
}

export interface FrameFacts {
  function: string;
  stackBytes: number;
  /** Writes r6..r9, which a device JIT may have to save across a BPF-to-BPF call. */
  savesCalleeRegs: boolean;
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
  /**
   * Where the definition came from: `btf` (.maps), `legacy` (libbpf's struct bpf_map_def in `maps`),
   * `iproute2` (struct bpf_elf_map in `maps`, with id/pinning/inner_id/inner_idx), `section`
   * (.data/.rodata/.bss), `none` (only referenced, attributes unknown).
   */
  source: 'btf' | 'legacy' | 'iproute2' | 'section' | 'none';
  /** libbpf LIBBPF_PIN_BY_NAME (`by_name`), iproute2 PIN_OBJECT_NS / PIN_GLOBAL_NS, or `none`. */
  pinning: 'none' | 'by_name' | 'object_ns' | 'global_ns' | 'other';
  perCpu: boolean;
  /** maxEntries x (key + value) (x cpus for per-CPU values): the figure device budgets are stated in. */
  bytes: number;
  /** Kernel allocation estimate including per-entry overhead (see hostMapBytes). */
  hostBytes: number;
}

export interface ProgramFacts {
  /** The program's FUNC symbol. */
  name: string;
  section: string;
  type: ProgramType;
  /** Expected attach type libbpf loads it with (`XDP`, `XDP_DEVMAP`, `TCX_INGRESS`...), or null. */
  attachType: string | null;
  /** `section`: libbpf's reading of the section name; `given`: the manifest or --type; `unknown`: neither. */
  typeSource: 'section' | 'given' | 'unknown';
  /** This program's own function first, then reachable subprograms. */
  functions: string[];
  /** 8-byte slots of the program's own function (ld_imm64 counts 2): symbol size / 8, as llvm-objdump numbers them. */
  instructions: number;
  /** Slots including every reachable subprogram: what gets loaded. */
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
  helperCalls: HelperCall[];
  ctxAccesses: CtxAccess[];
  aluSites: AluSite[];
  /** Plain (non-atomic) stores through a pointer into a map value. */
  mapValueStores: InsnRef[];
  /** This program's frame and each reachable subprogram's, in `functions` order. */
  frames: FrameFacts[];
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
  /**
   * Program types given by the manifest or --type, keyed by program (symbol) or section name,
   * spelled as libbpf section names (`xdp`, `xdp/devmap`, `tc`...). They override the section's reading.
   * The key `*` types every program whose section libbpf does not know.
   */
  types?: Record<string, string>;
}
