import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { DEFAULT_PROFILES_DIR } from './profile.loader';
import { firmwareProfileSchema } from './profile.schema';

/** The `limits.offload` block: a driver's own checks, validated like every other limit. */
describe('firmwareProfileSchema limits.offload', () => {
  const nfp = () => parse(fs.readFileSync(path.join(DEFAULT_PROFILES_DIR, 'netronome-agilio-cx-bpf-2.1.yaml'), 'utf8'));
  const issues = (p: unknown) => {
    const r = firmwareProfileSchema.safeParse(p);
    return r.success ? [] : r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  };

  it('carries the nfp driver rules', () => {
    const p = firmwareProfileSchema.parse(nfp());
    expect(p.limits.offload).toMatchObject({
      driver: 'nfp',
      refusedAttachTypes: ['XDP_DEVMAP', 'XDP_CPUMAP'],
      neutralMapTypes: [4],
      entryRounding: 8,
      mapValueStores: false,
      ctxReadOffsets: [0, 4],
      mulDivMaxBits: 32,
      perfEventCurrentCpu: true,
      stackFrameAlign: 64,
    });
    expect(p.limits.bpfToBpfCalls).toBe(true);
  });

  it('is optional, and names the field of a bad value', () => {
    const without = nfp();
    delete without.limits.offload;
    expect(issues(without)).toEqual([]);
    const typo = nfp();
    typo.limits.offload.stackFrameAling = 64;
    expect(issues(typo)).toEqual([expect.objectContaining({ path: 'limits.offload' })]);
    const attach = nfp();
    attach.limits.offload.refusedAttachTypes = ['xdp/devmap'];
    expect(issues(attach)).toEqual([
      { path: 'limits.offload.refusedAttachTypes.0', message: 'must be a bpf_attach_type name without BPF_, e.g. XDP_DEVMAP' },
    ]);
    const neutral = nfp();
    neutral.limits.offload.neutralMapTypes = [1];
    expect(issues(neutral)).toEqual([
      { path: 'limits.offload.neutralMapTypes.0', message: 'map type 1 is listed in mapTypes too; a neutral map stays on the host' },
    ]);
  });
});
