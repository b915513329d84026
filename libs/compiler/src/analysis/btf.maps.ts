import { execFile, execFileSync } from 'child_process';
import { promisify } from 'util';
import { existsSync } from 'fs';
import { bpftoolCommand } from '../build/os.sandbox';

/** A map as declared in the object's BTF (`.maps` section), before any loader touches it. */
export interface BtfMapInfo {
  name: string;
  type: number;
  maxEntries: number;
  keySize: number;
  valueSize: number;
  mapFlags: number;
  /** C type names when declared with __type(key, ...) / __type(value, ...). */
  keyType?: string;
  valueType?: string;
  pinning?: number;
  /** Declared with __array(values, ...): map-in-map inner definition or prog-array initial slots. */
  declaresValues?: boolean;
}

interface BtfType {
  id: number;
  kind: string;
  name?: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  members?: Array<{ name: string; type_id: number }>;
  vars?: Array<{ type_id: number; offset: number; size: number }>;
}

export interface BtfDump {
  types: BtfType[];
}

const MODIFIERS = new Set(['TYPEDEF', 'CONST', 'VOLATILE', 'RESTRICT', 'TYPE_TAG', 'VAR', 'DECL_TAG']);
const SIZED = new Set(['INT', 'STRUCT', 'UNION', 'ENUM', 'ENUM64', 'FLOAT', 'DATASEC']);

export class BtfTypes {
  private readonly byId = new Map<number, BtfType>();

  constructor(dump: BtfDump) {
    for (const t of dump.types) this.byId.set(t.id, t);
  }

  get(id: number): BtfType | undefined {
    return this.byId.get(id);
  }

  /** Follow typedef/const/volatile/var chains to the type that carries the shape. */
  strip(id: number): BtfType | undefined {
    let t = this.byId.get(id);
    for (let guard = 0; t && MODIFIERS.has(t.kind) && guard < 64; guard++) t = this.byId.get(t.type_id ?? 0);
    return t;
  }

  sizeOf(id: number, depth = 0): number {
    const t = this.byId.get(id);
    if (!t || depth > 64) return 0;
    if (SIZED.has(t.kind)) return t.size ?? 0;
    if (t.kind === 'PTR') return 8;
    if (t.kind === 'ARRAY') return (t.nr_elems ?? 0) * this.sizeOf(t.type_id ?? 0, depth + 1);
    if (MODIFIERS.has(t.kind)) return this.sizeOf(t.type_id ?? 0, depth + 1);
    return 0;
  }

  nameOf(id: number, depth = 0): string {
    const t = this.byId.get(id);
    if (!t) return 'void';
    const named = t.name && t.name !== '(anon)' ? t.name : '';
    switch (t.kind) {
      case 'STRUCT':
        return `struct ${named || '(anon)'}`;
      case 'UNION':
        return `union ${named || '(anon)'}`;
      case 'ENUM':
      case 'ENUM64':
        return `enum ${named || '(anon)'}`;
      case 'PTR':
        return `${depth < 16 ? this.nameOf(t.type_id ?? 0, depth + 1) : '?'} *`;
      case 'ARRAY':
        return `${depth < 16 ? this.nameOf(t.type_id ?? 0, depth + 1) : '?'}[${t.nr_elems}]`;
      case 'CONST':
      case 'VOLATILE':
      case 'RESTRICT':
        return `${t.kind.toLowerCase()} ${depth < 16 ? this.nameOf(t.type_id ?? 0, depth + 1) : '?'}`;
      default:
        return named || t.kind.toLowerCase();
    }
  }
}

/** Decode the `.maps` DATASEC: each VAR is a struct whose members encode the map attributes in pointer types. */
export function decodeBtfMaps(dump: BtfDump): BtfMapInfo[] {
  const btf = new BtfTypes(dump);
  const datasec = dump.types.find((t) => t.kind === 'DATASEC' && t.name === '.maps');
  if (!datasec) return [];
  const out: BtfMapInfo[] = [];
  for (const v of datasec.vars ?? []) {
    const variable = btf.get(v.type_id);
    const def = btf.strip(v.type_id);
    if (!variable || !def || def.kind !== 'STRUCT') continue;
    const map: BtfMapInfo = { name: variable.name ?? '', type: 0, maxEntries: 0, keySize: 0, valueSize: 0, mapFlags: 0 };
    for (const m of def.members ?? []) {
      const ptr = btf.strip(m.type_id);
      if (ptr?.kind !== 'PTR') continue;
      const target = btf.strip(ptr.type_id ?? 0);
      // __uint(name, N) is `int (*name)[N]`: the value is the array length.
      const uintValue = target?.kind === 'ARRAY' ? (target.nr_elems ?? 0) : undefined;
      switch (m.name) {
        case 'type':
          map.type = uintValue ?? 0;
          break;
        case 'max_entries':
          map.maxEntries = uintValue ?? 0;
          break;
        case 'map_flags':
          map.mapFlags = uintValue ?? 0;
          break;
        case 'key_size':
          map.keySize = uintValue ?? 0;
          break;
        case 'value_size':
          map.valueSize = uintValue ?? 0;
          break;
        case 'pinning':
          map.pinning = uintValue ?? 0;
          break;
        case 'key':
          map.keySize = btf.sizeOf(ptr.type_id ?? 0);
          map.keyType = btf.nameOf(ptr.type_id ?? 0);
          break;
        case 'value':
          map.valueSize = btf.sizeOf(ptr.type_id ?? 0);
          map.valueType = btf.nameOf(ptr.type_id ?? 0);
          break;
        case 'values':
          map.declaresValues = true;
          break;
      }
    }
    out.push(map);
  }
  return out;
}

function bpftoolPath(): string {
  return existsSync('/usr/sbin/bpftool') ? '/usr/sbin/bpftool' : 'bpftool';
}

/** bpftool in the OS sandbox, seeing only the object (it parses untrusted uploads). */
function btfDumpCommand(path: string) {
  return bpftoolCommand(bpftoolPath(), ['btf', 'dump', 'file', path, '-j'], '/sys/fs/bpf');
}

/** Raw BTF of an object file via `bpftool btf dump file <path> -j`; throws when bpftool fails. */
export function dumpBtf(path: string): BtfDump {
  const c = btfDumpCommand(path);
  const json = execFileSync(c.file, c.args, {
    uid: c.uid,
    gid: c.gid,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(json) as BtfDump;
}

export function readBtfMaps(path: string): BtfMapInfo[] {
  return decodeBtfMaps(dumpBtf(path));
}

const execFileAsync = promisify(execFile);

/** readBtfMaps in a child process the caller does not wait on (tens of ms of bpftool per object). */
export async function readBtfMapsAsync(path: string): Promise<BtfMapInfo[]> {
  const c = btfDumpCommand(path);
  const { stdout } = await execFileAsync(c.file, c.args, {
    uid: c.uid,
    gid: c.gid,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 30_000,
  });
  return decodeBtfMaps(JSON.parse(stdout) as BtfDump);
}
