import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, http, startHarness } from './harness';

const PASS_ALL = `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int pass_all(struct xdp_md *ctx) { return XDP_PASS; }
char LICENSE[] SEC("license") = "GPL";
`;

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

function manifest(name: string, over: Record<string, unknown> = {}) {
  return {
    name,
    version: '1.0.0',
    description: 'test upload',
    program: 'xdp',
    traffic: { pps: 1000, meanPacketBytes: 64 },
    latencyBudgetUs: 50,
    hints: { prefer: 'auto', persistentMaps: [] },
    vectors: [
      {
        name: 'udp passes',
        input: { fields: { ipSrc: '10.0.0.1', ipDst: '10.0.0.2', proto: 'udp', srcPort: 1, dstPort: 2 } },
        expect: { verdict: 'XDP_PASS' },
      },
    ],
    ...over,
  };
}

describe('modules API', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h?.stop());

  // Reports name no server path, so the test reads a built object from the cache by its digest.
  const objectOf = (digest: string) => readFileSync(join(h.config.IOPLANE_DATA_DIR, 'artifacts', `${digest}.o`));
  const modulesKeys = async () => (await h.redis.keys(`${h.keys.base}:modules*`)).sort();

  it('lists the catalog and returns one module', async () => {
    const list = (await http(h.apiUrl, 'GET', '/v1/modules')).body;
    expect(list.items.map((m: { name: string }) => m.name)).toEqual(expect.arrayContaining(['acl-firewall', 'l4-lb', 'vxlan-decap']));
    const lb = (await http(h.apiUrl, 'GET', '/v1/modules/l4-lb')).body;
    expect(lb).toMatchObject({ name: 'l4-lb', origin: 'catalog', program: 'xdp' });
    expect(await http(h.apiUrl, 'GET', '/v1/modules/nope')).toMatchObject({ status: 404, body: { error: { field: 'name' } } });
  });

  it('analyses a module for one profile, and refuses an unknown profile by name', async () => {
    const a = await http(h.apiUrl, 'GET', '/v1/modules/flow-counter/analysis?profile=netronome-agilio-cx-bpf-2.1');
    expect(a.status).toBe(200);
    expect(a.body.verdicts).toHaveLength(1);
    expect(a.body.verdicts[0]).toMatchObject({ profileId: 'netronome-agilio-cx-bpf-2.1', accepted: false });
    expect(a.body.maps.map((m: { typeName: string }) => m.typeName)).toContain('LRU_HASH');
    const bad = await http(h.apiUrl, 'GET', '/v1/modules/flow-counter/analysis?profile=acme-9000');
    expect(bad).toMatchObject({ status: 404, body: { error: { field: 'profile' } } });
  });

  it('takes a source upload, builds and checks it, then lists it', async () => {
    const res = await http(h.apiUrl, 'POST', '/v1/modules', { manifest: manifest('pass-all'), files: { 'pass_all.bpf.c': b64(PASS_ALL) } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'pass-all', origin: 'source', digest: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(res.body.analysis.accepted.map((a: { profile: string }) => a.profile)).toContain('netronome-agilio-cx-bpf-2.1');
    const list = (await http(h.apiUrl, 'GET', '/v1/modules')).body.items;
    expect(list.find((m: { name: string }) => m.name === 'pass-all')).toMatchObject({ origin: 'source' });
  });

  it('keeps a version immutable: the same content again is 200, other content 409, a shipped name 409', async () => {
    const body = (ret: string) => ({
      manifest: manifest('pinned-version', { vectors: [] }),
      files: { 'p.c': b64(PASS_ALL.replace('XDP_PASS;', `${ret};`)) },
    });
    const first = await http(h.apiUrl, 'POST', '/v1/modules', body('XDP_PASS'));
    expect(first.status).toBe(201);
    const again = await http(h.apiUrl, 'POST', '/v1/modules', body('XDP_PASS'));
    expect(again).toMatchObject({ status: 200, body: { name: 'pinned-version', digest: first.body.digest } });
    const before = await modulesKeys();
    const other = await http(h.apiUrl, 'POST', '/v1/modules', body('XDP_DROP'));
    expect(other).toMatchObject({ status: 409, body: { error: { code: 'version_exists', field: 'manifest.version' } } });
    const shipped = await http(h.apiUrl, 'POST', '/v1/modules', {
      manifest: manifest('ddos-drop', { vectors: [] }),
      files: { 'p.c': b64(PASS_ALL) },
    });
    expect(shipped).toMatchObject({ status: 409, body: { error: { code: 'catalog_module', field: 'manifest.name' } } });
    expect(await modulesKeys()).toEqual(before);
    expect((await http(h.apiUrl, 'GET', '/v1/modules/pinned-version')).body.digest).toBe(first.body.digest);
  });

  it('takes a BPF object built elsewhere and analyses it like a built one', async () => {
    const report = (await http(h.apiUrl, 'GET', '/v1/modules/vxlan-decap/analysis')).body;
    expect(report.artifact.objectPath).toBeUndefined();
    const object = objectOf(report.artifact.digest);
    const res = await http(h.apiUrl, 'POST', '/v1/modules', { manifest: manifest('vxlan-prebuilt', { vectors: [] }), object: b64(object) });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ origin: 'object', digest: expect.any(String) });
    expect(res.body.analysis.helpers).toEqual(['bpf_xdp_adjust_head']);
  });

  describe('bad uploads get a clear error and store nothing', () => {
    let validObject: Buffer;
    beforeAll(async () => {
      validObject = objectOf((await http(h.apiUrl, 'GET', '/v1/modules/acl-firewall/analysis')).body.artifact.digest);
    });
    const cases: Array<[string, () => Record<string, unknown>, number, RegExp, RegExp]> = [
      [
        'a source including /etc/passwd',
        () => ({ manifest: manifest('evil'), files: { 'evil.c': b64('#include "/etc/passwd"\nint x;\n') } }),
        400,
        /include_refused/,
        /passwd/,
      ],
      [
        'a source that does not compile',
        () => ({ manifest: manifest('broken'), files: { 'broken.c': b64('#include <linux/bpf.h>\nint f( {\n') } }),
        400,
        /compile_error/,
        /broken\.c:2/,
      ],
      [
        'a non-ELF upload',
        () => ({ manifest: manifest('junk', { vectors: [] }), object: b64('hello, this is not an ELF file at all') }),
        400,
        /invalid_object|not_elf/,
        /ELF/,
      ],
      [
        'an ELF for another machine',
        () => ({ manifest: manifest('x86', { vectors: [] }), object: b64(readFileSync('/bin/true')) }),
        400,
        /wrong_machine/,
        /x86-64.*expected 247/,
      ],
      [
        'a truncated object',
        () => ({ manifest: manifest('cut', { vectors: [] }), object: b64(validObject.subarray(0, 100)) }),
        400,
        /truncated/,
        /./,
      ],
      [
        'a manifest with a bad field',
        () => ({ manifest: manifest('badver', { version: 'one' }), files: { 'a.c': b64(PASS_ALL) } }),
        400,
        /validation/,
        /manifest\.version/,
      ],
      [
        'both sources and an object',
        () => ({ manifest: manifest('both'), files: { 'a.c': b64(PASS_ALL) }, object: b64('x') }),
        400,
        /validation/,
        /exactly one/,
      ],
      [
        'a program whose test vector fails',
        () => ({
          manifest: manifest('liar', {
            vectors: [{ name: 'claims drop', input: { hex: '00'.repeat(64) }, expect: { verdict: 'XDP_DROP' } }],
          }),
          files: { 'liar.c': b64(PASS_ALL) },
        }),
        422,
        /vectors_failed/,
        /claims drop/,
      ],
    ];
    it.each(cases)('%s', async (_name, body, status, code, message) => {
      const before = await modulesKeys();
      const counts = async () => [await h.redis.hlen(`${h.keys.base}:modules`), await h.redis.hlen(`${h.keys.base}:modules:reports`)];
      const countsBefore = await counts();
      const res = await http(h.apiUrl, 'POST', '/v1/modules', body());
      expect(res.status).toBe(status);
      expect(res.body.error.code).toMatch(code);
      expect(`${res.body.error.field}: ${res.body.error.message}`).toMatch(message);
      expect(await modulesKeys()).toEqual(before);
      expect(await counts()).toEqual(countsBefore);
    });
  });
});
