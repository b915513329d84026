import type { FirmwareProfile, ProfileLimits } from '@ioplane/domain';
import { ObjectFacts } from '../analysis/analysis.types';
import { analyzeFile } from '../analysis/object.analyzer';
import { BpfFixtures, Fixture, ROUTER_C, STRIPPER_C } from '../elf/bpf.fixtures';
import { hostKernelLimits } from './host.profile';
import { targetsFor, verifyOffload } from './offload.verifier';
import { OffloadReason } from './verifier.types';

const NFP_LIMITS: ProfileLimits = {
  maxInstructions: 1120,
  instructionExpansion: 2.5,
  programSlotsPerPort: 1,
  ports: 2,
  stackBytes: 512,
  helpers: [1, 2, 3, 7, 25, 44, 65],
  mapTypes: [1, 2],
  mapMemoryBytes: 196_480_000,
  maxMapEntries: 3_070_000,
  maxEntryBytes: 64,
  mapFlagsAllowed: false,
  refusedOpcodes: [0x94, 0x9c, 0x97, 0x9f, 0xd4, 0xd7, 0x06],
  tailCalls: false,
  bpfToBpfCalls: false,
  atomics: 'add',
  xdpActions: [0, 1, 2, 3],
  flowRules: 0,
};

function profile(id: string, targets: FirmwareProfile['targets'], limits: Partial<ProfileLimits> = {}): FirmwareProfile {
  return {
    id,
    vendor: 'Spec',
    model: 'Spec card',
    kind: 'smartnic',
    firmware: { version: '1', flavour: 'bpf' },
    pci: { vendorId: '19ee', productIds: ['4000'] },
    firmwareVersions: [],
    targets,
    limits: { ...NFP_LIMITS, ...limits },
    throughput: { lineRateGbps: 50, basePps: 74_400_000, nsPerInsn: 0.056, latencyUs: 2 },
    flash: {
      tool: 'none',
      writeSeconds: 0,
      activateSeconds: 0,
      slots: [],
      capabilities: { dualImage: false, needsReboot: false, needsActivation: false, canVerify: false, usableDuringUpdate: true },
    },
  };
}

const nfp = profile('spec-nfp-bpf', ['nic-xdp-offload']);
/** A DPU-like profile: any eBPF on the Arm, match-action rules in the switch. */
const dpu = profile('spec-dpu', ['dpu-arm-xdp', 'dpu-flow-offload'], {
  maxInstructions: 1_000_000,
  instructionExpansion: 1,
  helpers: null,
  mapTypes: null,
  mapFlagsAllowed: true,
  maxEntryBytes: null,
  refusedOpcodes: [],
  tailCalls: true,
  bpfToBpfCalls: true,
  atomics: 'all',
  xdpActions: [0, 1, 2, 3, 4],
  flowRules: 100_000,
});

const codes = (rs: OffloadReason[]) => rs.map((r) => r.code);

describe('verifyOffload', () => {
  const fixtures = new BpfFixtures();
  let router: Fixture;
  let stripper: Fixture;
  let routerFacts: ObjectFacts;
  let stripperFacts: ObjectFacts;
  const insnOf = (fx: Fixture, fn: string, re: RegExp) => fx.disasm.get(fn)!.find((l) => re.test(l.text))!.index;

  beforeAll(() => {
    router = fixtures.compile('router', ROUTER_C);
    stripper = fixtures.compile('stripper', STRIPPER_C);
    routerFacts = analyzeFile(router.path);
    stripperFacts = analyzeFile(stripper.path);
  });
  afterAll(() => fixtures.cleanup());

  it('reports every reason the router cannot go to the NFP-like profile, each with its insn or map', () => {
    const v = verifyOffload(routerFacts, 'route', nfp);
    expect(v).toMatchObject({ profileId: 'spec-nfp-bpf', program: 'route', accepted: false, acceptedTargets: [] });
    expect(v.targets.map((t) => [t.target, t.rules, t.accepted])).toEqual([['nic-xdp-offload', 'ebpf-limits', false]]);

    const fib = insnOf(router, 'route', /^call 69$/);
    expect(v.reasons).toContainEqual(
      expect.objectContaining({
        code: 'helper',
        insn: fib,
        actual: 69,
        message: `helper bpf_fib_lookup (69) at insn ${fib} is not supported by spec-nfp-bpf`,
      }),
    );
    expect(v.reasons).toContainEqual(expect.objectContaining({ code: 'helper', actual: 23, insn: insnOf(router, 'route', /^call 23$/) }));
    expect(v.reasons).toContainEqual(
      expect.objectContaining({
        code: 'map_type',
        map: 'flows',
        message: 'map flows of type LRU_HASH is not offloadable to spec-nfp-bpf (allowed: HASH, ARRAY)',
      }),
    );
    expect(v.reasons).toContainEqual(expect.objectContaining({ code: 'map_type', map: 'routes', actual: 'LPM_TRIE' }));
    expect(v.reasons).toContainEqual(expect.objectContaining({ code: 'map_flags', map: 'routes', actual: 1 }));
    // libbpf's .data/.rodata maps carry BPF_F_MMAPABLE, which a flags-0 device refuses.
    expect(v.reasons).toContainEqual(expect.objectContaining({ code: 'map_flags', map: '.data' }));
    expect(v.reasons).toContainEqual(
      expect.objectContaining({
        code: 'opcode',
        insn: insnOf(router, 'route', /<unknown>/),
        actual: 0x9f,
        message: expect.stringMatching(/^opcode 0x9f \(mod64 reg\) at insn \d+ is refused by spec-nfp-bpf$/),
      }),
    );
    expect(v.reasons).toContainEqual(expect.objectContaining({ code: 'bpf_call', insn: insnOf(router, 'route', /^call -1$/) }));
    expect(v.reasons).toContainEqual(expect.objectContaining({ code: 'xdp_action', actual: 4 }));
    // Atomic adds without fetch are within 'add'; the loop is a fact, not an eBPF-limit violation.
    expect(codes(v.reasons)).not.toContain('atomic');
    expect(codes(v.reasons)).not.toContain('loop');
  });

  it('accepts the HASH/ARRAY adjust_head program on the NFP-like profile and the host', () => {
    const v = verifyOffload(stripperFacts, 'strip', nfp);
    expect(v.reasons).toEqual([]);
    expect(v).toMatchObject({ accepted: true, acceptedTargets: ['nic-xdp-offload'] });
    expect(verifyOffload(stripperFacts, 'strip', hostKernelLimits()).acceptedTargets).toEqual(['host-xdp-native', 'host-xdp-generic']);
    expect(verifyOffload(routerFacts, 'route', hostKernelLimits()).accepted).toBe(true);
  });

  it('counts instructions against the budget with the expansion factor, and the stack with subprograms', () => {
    const tight = profile('spec-tight', ['nic-xdp-offload'], { maxInstructions: 20, stackBytes: 64, atomics: 'none', maxEntryBytes: 8 });
    const strip = stripperFacts.programs.find((p) => p.name === 'strip')!;
    const v = verifyOffload(stripperFacts, 'strip', tight);
    expect(v.reasons).toContainEqual({
      code: 'instructions',
      rule: 'instructions',
      limit: 20,
      actual: strip.totalInstructions,
      message: `${strip.totalInstructions} instructions over the profile's 20 (x2.5 expansion = ~${Math.ceil(strip.totalInstructions * 2.5)} device instructions, over the device's ~50)`,
    });
    expect(v.reasons).toContainEqual(expect.objectContaining({ code: 'atomic', insn: strip.atomics[0].insn, limit: 'none' }));
    expect(
      v.reasons
        .filter((r) => r.code === 'map_entry_size')
        .map((r) => r.map)
        .sort(),
    ).toEqual(['allow', 'stats']);

    const route = routerFacts.programs[0];
    const rv = verifyOffload(routerFacts, 'route', tight);
    expect(rv.reasons).toContainEqual(expect.objectContaining({ code: 'stack', limit: 64, actual: route.maxStackDepth }));
    expect(rv.reasons.find((r) => r.code === 'instructions')!.message).toMatch(/across route, mix/);
  });

  it('checks map entries and memory per map and together', () => {
    const small = profile('spec-small', ['nic-xdp-offload'], { maxMapEntries: 4000, mapMemoryBytes: 40_000 });
    const v = verifyOffload(stripperFacts, 'strip', small);
    expect(v.reasons).toContainEqual(expect.objectContaining({ code: 'map_entries', map: 'allow', actual: 4096, limit: 4000 }));
    expect(v.reasons).toContainEqual(expect.objectContaining({ code: 'map_memory', map: 'allow', actual: 4096 * 12 }));
    expect(v.reasons).toContainEqual(
      expect.objectContaining({
        code: 'map_entries',
        actual: 4100,
        message: expect.stringMatching(/^maps allow, stats hold 4,100 entries together/),
      }),
    );
  });

  it('lets only pure match-action programs onto flow-offload targets', () => {
    expect(targetsFor(dpu)).toEqual([
      { target: 'dpu-arm-xdp', rules: 'ebpf-limits' },
      { target: 'dpu-flow-offload', rules: 'match-action' },
    ]);
    const acl = verifyOffload(stripperFacts, 'acl', dpu);
    expect(acl.acceptedTargets).toEqual(['dpu-arm-xdp', 'dpu-flow-offload']);

    const strip = verifyOffload(stripperFacts, 'strip', dpu);
    expect(strip.acceptedTargets).toEqual(['dpu-arm-xdp']);
    expect(strip.reasons).toEqual([
      expect.objectContaining({
        code: 'packet_rewrite',
        target: 'dpu-flow-offload',
        insn: insnOf(stripper, 'strip', /^call 44$/),
      }),
    ]);

    const route = verifyOffload(routerFacts, 'route', dpu);
    expect(route.acceptedTargets).toEqual(['dpu-arm-xdp']);
    expect(route.reasons.every((r) => r.target === 'dpu-flow-offload')).toBe(true);
    expect(new Set(codes(route.reasons))).toEqual(new Set(['helper', 'loop', 'bpf_call', 'map_type', 'global_state']));
    const loop = routerFacts.programs[0].backEdges[0];
    expect(route.reasons).toContainEqual(expect.objectContaining({ code: 'loop', insn: loop.insn, function: 'mix', section: '.text' }));
    expect(route.reasons.find((r) => r.code === 'loop')!.message).toMatch(/of mix \(\.text\)$/);

    const mark = verifyOffload(stripperFacts, 'mark', dpu);
    expect(mark.targets.find((t) => t.target === 'dpu-flow-offload')!.reasons.map((r) => r.code)).toEqual(['packet_rewrite']);
    // tc program on an XDP target.
    expect(mark.targets.find((t) => t.target === 'dpu-arm-xdp')!.reasons.map((r) => r.code)).toEqual(['program_type']);

    const crowded = verifyOffload(stripperFacts, 'acl', { ...dpu, limits: { ...dpu.limits, flowRules: 1000 } });
    expect(crowded.reasons).toEqual([
      expect.objectContaining({ code: 'flow_rules', actual: 4096, limit: 1000, target: 'dpu-flow-offload' }),
    ]);
  });

  it('names a missing program', () => {
    const v = verifyOffload(stripperFacts, 'nope', nfp);
    expect(v.accepted).toBe(false);
    expect(v.reasons[0]).toMatchObject({
      code: 'program',
      message: 'no program nope in the object (programs: strip (xdp), acl (xdp), mark (tc))',
    });
  });
});
