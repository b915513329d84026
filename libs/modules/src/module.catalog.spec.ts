import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse, stringify } from 'yaml';
import { DEFAULT_MODULES_DIR, loadCatalog, loadModule } from './module.catalog';
import { ModuleError } from './manifest.error';
import { packetHex } from './packet.builder';

const REQUIRED = ['acl-firewall', 'ddos-drop', 'flow-counter', 'l4-lb', 'rate-limiter', 'vxlan-decap'];

describe('loadCatalog (shipped modules/)', () => {
  const catalog = loadCatalog();

  it('loads every shipped module, sorted by name, with an absolute dir', () => {
    const names = catalog.map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining(REQUIRED));
    expect(names).toEqual([...names].sort());
    const folders = fs.readdirSync(DEFAULT_MODULES_DIR).filter((d) => fs.existsSync(path.join(DEFAULT_MODULES_DIR, d, 'module.yaml')));
    expect(names).toEqual(folders.sort());
    for (const m of catalog) {
      expect(path.isAbsolute(m.dir!)).toBe(true);
      expect(m.dir).toBe(path.join(DEFAULT_MODULES_DIR, m.name));
    }
  });

  it('gives every module at least three vectors whose input packets can be built', () => {
    for (const m of catalog) {
      expect(m.vectors.length).toBeGreaterThanOrEqual(3);
      for (const v of m.vectors) expect(packetHex(v)).toMatch(/^([0-9a-f]{2}){14,}$/);
    }
  });

  it('keeps the stateful expectations the catalog promises', () => {
    const lb = catalog.find((m) => m.name === 'l4-lb')!;
    expect(lb.vectors.some((v) => v.expect.verdict === 'XDP_TX' && v.expect.outputHex)).toBe(true);
    expect(fs.readFileSync(path.join(lb.dir!, lb.sources[0]), 'utf8')).toContain('bpf_xdp_adjust_head');
    const rl = catalog.find((m) => m.name === 'rate-limiter')!;
    expect(rl.vectors.some((v) => (v.repeat ?? 0) > 0 && v.expect.verdict === 'XDP_DROP')).toBe(true);
    const ddos = catalog.find((m) => m.name === 'ddos-drop')!;
    expect(ddos.seed?.every((s) => s.map === 'ddos_blocklist')).toBe(true);
  });
});

describe('loadModule with bad manifests', () => {
  let tmp: string;
  const good = parse(fs.readFileSync(path.join(DEFAULT_MODULES_DIR, 'ddos-drop', 'module.yaml'), 'utf8'));
  const source = fs.readFileSync(path.join(DEFAULT_MODULES_DIR, 'ddos-drop', 'ddos-drop.bpf.c'), 'utf8');

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iop-modules-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** Writes a ddos-drop copy edited by `edit` and returns the error loadModule throws. */
  function failure(edit: (m: any) => void, folder = 'ddos-drop', text?: string): ModuleError {
    const dir = path.join(fs.mkdtempSync(path.join(tmp, 'case-')), folder);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'ddos-drop.bpf.c'), source);
    const m = structuredClone(good);
    edit(m);
    fs.writeFileSync(path.join(dir, 'module.yaml'), text ?? stringify(m));
    try {
      loadModule(dir);
    } catch (e) {
      expect(e).toBeInstanceOf(ModuleError);
      expect((e as ModuleError).file).toBe(path.join(dir, 'module.yaml'));
      return e as ModuleError;
    }
    throw new Error('loadModule accepted a bad manifest');
  }

  it('accepts the unedited copy (the failures below are caused by the edits)', () => {
    const dir = path.join(tmp, 'ddos-drop');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'ddos-drop.bpf.c'), source);
    fs.writeFileSync(path.join(dir, 'module.yaml'), stringify(good));
    expect(loadModule(dir).name).toBe('ddos-drop');
  });

  it('refuses an unknown top-level key', () => {
    const e = failure((m) => (m.owner = 'netops'));
    expect([e.code, e.field, e.reason]).toEqual(['MODULE_INVALID', 'owner', 'unknown field']);
  });

  it('refuses an unknown nested key, naming its path', () => {
    const e = failure((m) => (m.vectors[1].expect.colour = 'red'));
    expect([e.field, e.reason]).toEqual(['vectors.1.expect.colour', 'unknown field']);
  });

  it('refuses a version that is not semver', () => {
    const e = failure((m) => (m.version = '1.0'));
    expect(e.field).toBe('version');
    expect(e.reason).toMatch(/semantic version/);
    expect(e.message).toContain('module.yaml: version:');
  });

  it('refuses a verdict outside XDP_ACTIONS', () => {
    const e = failure((m) => (m.vectors[2].expect.verdict = 'XDP_BOUNCE'));
    expect(e.field).toBe('vectors.2.expect.verdict');
    expect(e.reason).toMatch(/XDP_DROP/);
  });

  it('refuses odd-length hex in a vector input, an output and a seed', () => {
    expect(failure((m) => (m.vectors[7].input = { hex: 'fff' })).field).toBe('vectors.7.input.hex');
    expect(failure((m) => (m.vectors[0].expect.outputHex = 'abc')).field).toBe('vectors.0.expect.outputHex');
    const e = failure((m) => (m.seed[1].key = '20000000c633640'));
    expect([e.field, e.reason]).toEqual(['seed.1.key', 'must have an even number of hex digits (whole bytes)']);
  });

  it('refuses a vector input with both hex and fields', () => {
    const e = failure((m) => (m.vectors[0].input.hex = '00'));
    expect(e.field).toBe('vectors.0.input');
    expect(e.reason).toMatch(/exactly one of hex or fields/);
  });

  it('reports every issue, the first in field/reason', () => {
    const e = failure((m) => {
      m.version = 'x';
      m.hints.prefer = 'fpga';
    });
    expect(e.issues.map((i) => i.field)).toEqual(['version', 'hints.prefer']);
  });

  it('refuses a name that is not the folder name', () => {
    const e = failure(() => undefined, 'ddos-drop-v2');
    expect([e.code, e.field]).toEqual(['MODULE_NAME_MISMATCH', 'name']);
  });

  it('refuses a missing source file', () => {
    const e = failure((m) => (m.sources = ['ddos-drop.bpf.c', 'extra.h']));
    expect([e.code, e.field]).toEqual(['MODULE_SOURCE', 'sources.1']);
  });

  it('refuses a seed or persistent map the sources do not declare', () => {
    const e = failure((m) => (m.seed[0].map = 'ddos_blocklst'));
    expect([e.code, e.field]).toEqual(['MODULE_MAP', 'seed.0.map']);
    expect(e.reason).toContain('ddos_blocklist');
    expect(failure((m) => m.hints.persistentMaps.push('nope')).field).toBe('hints.persistentMaps.1');
  });

  it('reports YAML syntax errors and non-mapping documents against the file', () => {
    expect(failure(() => undefined, 'ddos-drop', 'name: [ddos-drop\n').code).toBe('MODULE_YAML');
    expect(failure(() => undefined, 'ddos-drop', '- just\n- a list\n').reason).toMatch(/mapping/);
  });

  it('refuses a catalog with a bad module, naming that module', () => {
    const root = path.join(tmp, 'catalog');
    for (const [name, version] of [
      ['aaa', '1.0.0'],
      ['bbb', 'one'],
    ]) {
      fs.mkdirSync(path.join(root, name), { recursive: true });
      fs.writeFileSync(path.join(root, name, 'ddos-drop.bpf.c'), source);
      fs.writeFileSync(path.join(root, name, 'module.yaml'), stringify({ ...good, name, version }));
    }
    fs.mkdirSync(path.join(root, 'not-a-module'));
    expect(() => loadCatalog(root)).toThrow(expect.objectContaining({ file: path.join(root, 'bbb', 'module.yaml'), field: 'version' }));
    fs.writeFileSync(path.join(root, 'bbb', 'module.yaml'), stringify({ ...good, name: 'bbb' }));
    expect(loadCatalog(root).map((m) => m.name)).toEqual(['aaa', 'bbb']);
  });
});
