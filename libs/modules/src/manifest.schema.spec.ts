import { moduleManifestSchema } from './manifest.schema';

const base = {
  name: 'demo',
  version: '1.2.3-rc.1+build.5',
  description: 'demo module',
  sources: ['demo.bpf.c'],
  program: 'xdp',
  traffic: { pps: 1000, meanPacketBytes: 64 },
  latencyBudgetUs: 5,
  hints: { prefer: 'auto', persistentMaps: [] },
  vectors: [{ name: 'v', input: { hex: '00112233445566778899aabbccdd' }, expect: { verdict: 'XDP_PASS' } }],
};

const paths = (value: unknown) => {
  const r = moduleManifestSchema.safeParse(value);
  return r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
};

describe('moduleManifestSchema', () => {
  it('accepts a full semver with pre-release and build metadata', () => {
    expect(paths(base)).toEqual([]);
  });

  it('gives a vector input exactly one of its two shapes after parsing', () => {
    const fields = { ipSrc: '192.0.2.1', ipDst: '192.0.2.2', proto: 'udp', srcPort: 1, dstPort: 2 };
    const parsed = moduleManifestSchema.parse({
      ...base,
      vectors: [{ name: 'f', input: { fields }, expect: { verdict: 'XDP_DROP' }, repeat: 3 }],
    });
    expect(parsed.vectors[0].input).toEqual({ fields });
    expect('hex' in parsed.vectors[0].input).toBe(false);
  });

  it.each([
    ['version', { ...base, version: '01.2.3' }],
    ['version', { ...base, version: 'v1.2.3' }],
    ['vectors.0.repeat', { ...base, vectors: [{ ...base.vectors[0], repeat: -1 }] }],
    ['vectors.0.input.hex', { ...base, vectors: [{ ...base.vectors[0], input: { hex: '0x00' } }] }],
    ['vectors.0.input', { ...base, vectors: [{ ...base.vectors[0], input: {} }] }],
    [
      'vectors.0.input.fields.ipSrc',
      { ...base, vectors: [{ ...base.vectors[0], input: { fields: { ipSrc: '1.2.3', ipDst: '1.2.3.4', proto: 'tcp' } } }] },
    ],
    [
      'vectors.0.input.fields.proto',
      { ...base, vectors: [{ ...base.vectors[0], input: { fields: { ipSrc: '1.2.3.4', ipDst: '1.2.3.4', proto: 'sctp' } } }] },
    ],
    ['vectors', { ...base, vectors: [] }],
    ['sources.0', { ...base, sources: ['../shared/common.h'] }],
    ['seed.0.value', { ...base, seed: [{ map: 'm', key: '00', value: '' }] }],
    ['hints', { ...base, hints: { prefer: 'auto', persistentMaps: [], pin: true } }],
  ])('refuses a bad %s', (field, manifest) => {
    expect(paths(manifest)).toContain(field);
  });

  it('refuses `dir`, which the loader derives', () => {
    const r = moduleManifestSchema.safeParse({ ...base, dir: '/elsewhere' });
    expect(r.success).toBe(false);
  });
});
