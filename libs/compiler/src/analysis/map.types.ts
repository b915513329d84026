/** enum bpf_map_type order (uapi linux/bpf.h). */
const MAP_TYPE_NAMES: readonly string[] = [
  'UNSPEC',
  'HASH',
  'ARRAY',
  'PROG_ARRAY',
  'PERF_EVENT_ARRAY',
  'PERCPU_HASH',
  'PERCPU_ARRAY',
  'STACK_TRACE',
  'CGROUP_ARRAY',
  'LRU_HASH',
  'LRU_PERCPU_HASH',
  'LPM_TRIE',
  'ARRAY_OF_MAPS',
  'HASH_OF_MAPS',
  'DEVMAP',
  'SOCKMAP',
  'CPUMAP',
  'XSKMAP',
  'SOCKHASH',
  'CGROUP_STORAGE',
  'REUSEPORT_SOCKARRAY',
  'PERCPU_CGROUP_STORAGE',
  'QUEUE',
  'STACK',
  'SK_STORAGE',
  'DEVMAP_HASH',
  'STRUCT_OPS',
  'RINGBUF',
  'INODE_STORAGE',
  'TASK_STORAGE',
  'BLOOM_FILTER',
  'USER_RINGBUF',
  'CGRP_STORAGE',
  'ARENA',
];

export const MAP_TYPE = {
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11,
  ARRAY_OF_MAPS: 12,
  HASH_OF_MAPS: 13,
  DEVMAP: 14,
  CPUMAP: 16,
  XSKMAP: 17,
  DEVMAP_HASH: 25,
  RINGBUF: 27,
} as const;

export function mapTypeName(type: number): string {
  return MAP_TYPE_NAMES[type] ?? `TYPE_${type}`;
}

const PERCPU_TYPES = new Set([5, 6, 10, 21]);
export function isPerCpu(type: number): boolean {
  return PERCPU_TYPES.has(type);
}

const MAP_FLAG_NAMES: Array<[number, string]> = [
  [0x1, 'BPF_F_NO_PREALLOC'],
  [0x2, 'BPF_F_NO_COMMON_LRU'],
  [0x4, 'BPF_F_NUMA_NODE'],
  [0x8, 'BPF_F_RDONLY'],
  [0x10, 'BPF_F_WRONLY'],
  [0x20, 'BPF_F_STACK_BUILD_ID'],
  [0x40, 'BPF_F_ZERO_SEED'],
  [0x80, 'BPF_F_RDONLY_PROG'],
  [0x100, 'BPF_F_WRONLY_PROG'],
  [0x200, 'BPF_F_CLONE'],
  [0x400, 'BPF_F_MMAPABLE'],
  [0x800, 'BPF_F_PRESERVE_ELEMS'],
  [0x1000, 'BPF_F_INNER_MAP'],
];
export const BPF_F_NO_PREALLOC = 0x1;
export const BPF_F_RDONLY_PROG = 0x80;
export const BPF_F_MMAPABLE = 0x400;

/** `BPF_F_NO_PREALLOC|BPF_F_RDONLY_PROG`, or `0`. */
export function mapFlagNames(flags: number): string {
  if (!flags) return '0';
  const names = MAP_FLAG_NAMES.filter(([bit]) => flags & bit).map(([, n]) => n);
  const rest = flags & ~MAP_FLAG_NAMES.reduce((m, [bit]) => m | bit, 0);
  if (rest) names.push(`0x${rest.toString(16)}`);
  return names.join('|');
}

/**
 * Kernel-side bytes for a map, an estimate from the kernel's allocators: hash-like maps add a
 * 48 B htab_elem per entry and round key and value to 8 B; LPM trie nodes add ~40 B; arrays store
 * values only. Per-CPU maps multiply the value by `cpus`.
 */
export function hostMapBytes(type: number, maxEntries: number, keySize: number, valueSize: number, cpus: number): number {
  const r8 = (n: number) => Math.ceil(n / 8) * 8;
  const value = isPerCpu(type) ? r8(valueSize) * cpus : r8(valueSize);
  switch (type) {
    case 2:
    case 6:
    case 3:
    case 4:
    case 12:
    case 14:
    case 16:
    case 17:
      return maxEntries * value;
    case 11:
      return maxEntries * (40 + keySize + valueSize);
    case 27:
    case 31:
      return maxEntries;
    default:
      return maxEntries * (48 + r8(keySize) + value + (isPerCpu(type) ? 8 : 0));
  }
}
