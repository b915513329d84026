import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeKernel } from '@ioplane/compiler/testing';
import { loadCatalog, ModuleManifest } from '@ioplane/modules';
import { loadProfiles } from '@ioplane/profiles';
import { checkModule } from './module.check';
import { ModuleReport } from './module.report';

const NFP_BPF = 'netronome-agilio-cx-bpf-2.1';
const NFP_FLOWER = 'netronome-agilio-cx-flower-2.1';
const BF3 = 'nvidia-bluefield-3-32.39';

describe('catalog modules: built with clang, analysed, verified per profile', () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'ioplane-catalog-'));
  const profiles = loadProfiles();
  const catalog = loadCatalog();
  const reports = new Map<string, ModuleReport>();
  const byName = (n: string) => reports.get(n)!;
  const verdict = (m: string, p: string) => byName(m).verdicts.find((v) => v.profileId === p)!;

  beforeAll(async () => {
    // Static facts and verdicts first; the kernel runs in its own block below.
    for (const m of catalog) reports.set(m.name, await checkModule(m, { cacheDir, profiles, kernel: 'off' }));
  }, 120_000);
  afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

  it('ships at least six modules covering the product', () => {
    expect(catalog.map((m) => m.name)).toEqual(
      expect.arrayContaining(['acl-firewall', 'ddos-drop', 'flow-counter', 'l4-lb', 'rate-limiter', 'vxlan-decap']),
    );
  });

  it('reads the facts of each program', () => {
    expect(byName('l4-lb').program.helpers.map((h) => h.name)).toContain('bpf_xdp_adjust_head');
    expect(byName('vxlan-decap').program.helpers.map((h) => h.name)).toEqual(['bpf_xdp_adjust_head']);
    expect(byName('flow-counter').maps.find((m) => m.name === 'flow_table')).toMatchObject({ typeName: 'LRU_HASH' });
    expect(byName('ddos-drop').maps.find((m) => m.name === 'ddos_blocklist')).toMatchObject({ typeName: 'LPM_TRIE' });
    expect(byName('rate-limiter').program.helpers.map((h) => h.name)).toContain('bpf_ktime_get_ns');
    expect(byName('ttl-guard').program.helpers.map((h) => h.name)).toEqual(expect.arrayContaining(['bpf_fib_lookup', 'bpf_redirect']));
    for (const r of reports.values()) {
      expect(r.program.type).toBe('xdp');
      expect(r.program.totalInstructions).toBeGreaterThan(10);
      expect(r.program.maxStackDepth).toBeLessThanOrEqual(512);
      // No kernel asked for: the cost is an estimate, and says so.
      expect(r.cost).toMatchObject({ estimated: true, source: 'estimate' });
    }
  });

  it('accepts the offloadable modules on the Netronome eBPF firmware', () => {
    for (const m of ['acl-firewall', 'l4-lb', 'vxlan-decap'])
      expect(verdict(m, NFP_BPF)).toMatchObject({ accepted: true, acceptedTargets: ['nic-xdp-offload'] });
  });

  it('refuses the others there, naming the map or the instruction and the limit', () => {
    const ddos = verdict('ddos-drop', NFP_BPF);
    expect(ddos.accepted).toBe(false);
    expect(ddos.reasons).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ code: 'map_type', map: 'ddos_blocklist', message: expect.stringMatching(/LPM_TRIE is not offloadable/) }),
      ]),
    );
    const flows = verdict('flow-counter', NFP_BPF);
    expect(flows.reasons).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ code: 'map_type', map: 'flow_table', message: expect.stringMatching(/LRU_HASH/) }),
      ]),
    );
    const ttl = verdict('ttl-guard', NFP_BPF).reasons.find((r) => r.code === 'helper' && /bpf_fib_lookup/.test(r.message))!;
    expect(ttl.insn).toEqual(expect.any(Number));
    expect(ttl.message).toMatch(new RegExp(`bpf_fib_lookup \\(69\\) at insn ${ttl.insn} is not supported by ${NFP_BPF}`));
    const rl = verdict('rate-limiter', NFP_BPF)
      .reasons.map((r) => r.message)
      .join('\n');
    expect(rl).toMatch(/bpf_ktime_get_ns \(5\) at insn \d+/);
  });

  it('takes only pure match-action programs for flow offload', () => {
    expect(verdict('acl-firewall', NFP_FLOWER)).toMatchObject({ accepted: true, acceptedTargets: ['nic-flow-offload'] });
    expect(verdict('l4-lb', NFP_FLOWER).accepted).toBe(false);
    expect(verdict('l4-lb', NFP_FLOWER).reasons.map((r) => r.code)).toContain('packet_rewrite');
    expect(verdict('acl-firewall', BF3).acceptedTargets).toEqual(['dpu-arm-xdp', 'dpu-flow-offload']);
    expect(verdict('rate-limiter', BF3).acceptedTargets).toEqual(['dpu-arm-xdp']);
  });

  it('accepts every module on the host kernel', () => {
    for (const r of reports.values()) expect(r.verdicts[0]).toMatchObject({ profileId: 'host-kernel', accepted: true });
  });

  it('reuses the cached artifact on a second build of an unchanged module', async () => {
    const m = catalog.find((x) => x.name === 'acl-firewall')!;
    const first = reports.get('acl-firewall')!.artifact;
    const mtime = statSync(first.objectPath).mtimeMs;
    const again = await checkModule(m, { cacheDir, profiles: [], kernel: 'off' });
    expect(again.artifact).toMatchObject({ cached: true, digest: first.digest, objectPath: first.objectPath });
    expect(statSync(again.artifact.objectPath).mtimeMs).toBe(mtime);
  });
});

describeKernel('catalog modules in the real kernel', (itKernel) => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'ioplane-catalog-k-'));
  afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

  itKernel(
    'pass the kernel verifier and every test vector, with a measured cost',
    async () => {
      const catalog: ModuleManifest[] = loadCatalog();
      for (const m of catalog) {
        const r = await checkModule(m, { cacheDir, profiles: [] });
        expect({ module: m.name, accepted: r.kernel.verify?.accepted }).toEqual({ module: m.name, accepted: true });
        expect(r.vectors).toHaveLength(m.vectors.length);
        for (const v of r.vectors!)
          expect({ module: m.name, vector: v.name, passed: v.passed, reason: v.reason }).toEqual({
            module: m.name,
            vector: v.name,
            passed: true,
            reason: undefined,
          });
        expect(r.cost).toMatchObject({ estimated: false, source: 'kernel' });
        expect(r.cost.nsPerPacket).toBeGreaterThan(0);
        // The empty program measured the same way is reported apart from the module's own figure.
        expect({ module: m.name, harness: typeof r.cost.harnessNs }).toEqual({ module: m.name, harness: 'number' });
        expect(r.cost.harnessNs).toBeGreaterThan(0);
        for (const v of r.vectors!) expect(v.harnessNsPerPacket).toBeGreaterThan(0);
      }
    },
    180_000,
  );
});
