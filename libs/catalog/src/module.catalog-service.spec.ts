import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { BuildError } from '@ioplane/compiler';
import { privateTmpdir, type PrivateTmpdir } from '@ioplane/compiler/testing';
import { RedisModuleRepository, StateKeys } from '@ioplane/state';
import { CatalogConflict, ModuleCatalog } from './module.catalog-service';
import { CatalogRefusal } from './module.check';
import { publicReport, scrubServerPaths } from './module.public';

// Real Redis: REDIS_URL, or the server test/global-setup.ts spawned.
const url = process.env.REDIS_URL!;

const PASS = (ret = 'XDP_PASS') =>
  `#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\nSEC("xdp") int pass_all(struct xdp_md *ctx) { return ${ret}; }\nchar LICENSE[] SEC("license") = "GPL";\n`;
const b64 = (s: string) => Buffer.from(s).toString('base64');

function upload(name: string, version: string, files: Record<string, string>, over: Record<string, unknown> = {}) {
  return {
    manifest: {
      name,
      version,
      description: 'spec upload',
      program: 'xdp',
      traffic: { pps: 1000, meanPacketBytes: 64 },
      latencyBudgetUs: 50,
      hints: { prefer: 'auto', persistentMaps: [] },
      ...over,
    },
    files: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, b64(v)])),
  };
}

describe(ModuleCatalog.name, () => {
  const prefix = `ioplane-test-${randomUUID().slice(0, 8)}`;
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let dirs: PrivateTmpdir;
  let tmp: string;
  let cacheDir: string;
  let sut: ModuleCatalog;

  beforeAll(async () => {
    await redis.connect();
    // A private TMPDIR: every temp folder of an upload (sources, sandbox, staging cache) lands here.
    dirs = await privateTmpdir('ioplane-catalog-service-');
    tmp = dirs.tmp;
    cacheDir = join(dirs.root, 'artifacts');
    sut = new ModuleCatalog(new RedisModuleRepository(redis, prefix), [], { cacheDir, kernel: 'off' });
  });
  afterAll(async () => {
    const keys = await redis.keys(new StateKeys(prefix).pattern);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await dirs?.restore();
  });

  const state = async () => ({
    keys: (await redis.keys(new StateKeys(prefix).pattern)).sort(),
    hashes: await Promise.all(
      ['modules', 'modules:reports', 'modules:versions'].map((k) => redis.hgetall(`${new StateKeys(prefix).base}:${k}`)),
    ),
    cache: (await fsp.readdir(cacheDir).catch(() => [] as string[])).sort(),
    tmp: await fsp.readdir(tmp),
  });

  it('stores an accepted upload, its object in the artifact cache and its report, leaving no temp folder', async () => {
    const r = await sut.upload(upload('spec-pass', '1.0.0', { 'pass.c': PASS() }));
    expect(r.created).toBe(true);
    expect(r.report.artifact.objectPath).toBe(join(cacheDir, `${r.record.digest}.o`));
    expect((await fsp.readFile(r.report.artifact.objectPath)).toString('base64')).toBe(r.record.objectB64);
    const s = await state();
    expect(s.cache).toEqual([`${r.record.digest}.json`, `${r.record.digest}.o`]);
    expect(s.tmp).toEqual([]);
    expect(Object.keys(s.hashes[2])).toEqual(['spec-pass@1.0.0']);
  });

  it('answers the same version with the same content as done, changing nothing', async () => {
    const before = await state();
    const r = await sut.upload(upload('spec-pass', '1.0.0', { 'pass.c': PASS() }));
    expect(r.created).toBe(false);
    expect(await state()).toEqual(before);
  });

  it('refuses the same version with other content (source or manifest), and stores nothing', async () => {
    const before = await state();
    for (const body of [
      upload('spec-pass', '1.0.0', { 'pass.c': PASS('XDP_DROP') }),
      upload('spec-pass', '1.0.0', { 'pass.c': PASS() }, { description: 'changed' }),
    ]) {
      const e = await sut.upload(body).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(CatalogConflict);
      expect(e).toMatchObject({ code: 'version_exists', field: 'manifest.version' });
    }
    expect(await state()).toEqual(before);
    // A new version is a new upload.
    expect((await sut.upload(upload('spec-pass', '1.1.0', { 'pass.c': PASS('XDP_DROP') }))).created).toBe(true);
  });

  it('lets exactly one of two racing uploads of one version with different content win', async () => {
    const results = await Promise.allSettled([
      sut.upload(upload('spec-race', '1.0.0', { 'a.c': PASS() })),
      sut.upload(upload('spec-race', '1.0.0', { 'a.c': PASS('XDP_DROP') })),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(lost.reason).toMatchObject({ code: 'version_exists' });
    expect((await state()).tmp).toEqual([]);
  });

  it('refuses an upload named like a shipped module before building anything', async () => {
    const before = await state();
    const e = await sut.upload(upload('ddos-drop', '9.9.9', { 'x.c': PASS() })).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'catalog_module', field: 'manifest.name' });
    expect(await state()).toEqual(before);
  });

  it('leaves nothing behind after a rejected upload: no object, no report, no temp folder', async () => {
    const before = await state();
    const rejects: Array<[unknown, string]> = [
      [upload('spec-broken', '1.0.0', { 'b.c': 'int f( {\n' }), 'compile_error'],
      [upload('spec-evil', '1.0.0', { 'e.c': 'int a;\r#include "/etc/passwd"\r' }), 'include_refused'],
      [upload('spec-dash', '1.0.0', { '-fplugin=x.c': PASS() }), 'plain \\.c or \\.h names'],
      [upload('spec-dot', '1.0.0', { '.hidden.c': PASS() }), 'plain \\.c or \\.h names'],
      [{ manifest: upload('spec-junk', '1.0.0', {}).manifest, object: b64('\x7fELF not really an object at all, just bytes') }, 'ELF'],
    ];
    for (const [body, code] of rejects) {
      const e = await sut.upload(body).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(Error);
      expect(`${(e as { code?: string }).code} ${(e as Error).message}`).toMatch(new RegExp(code));
      expect((e as Error).message).not.toContain(dirs.root);
      expect(await state()).toEqual(before);
    }
  });

  it('refuses a source upload where bwrap cannot run, naming why, and stores nothing', async () => {
    const noBwrap = new ModuleCatalog(new RedisModuleRepository(redis, prefix), [], {
      cacheDir,
      kernel: 'off',
      sandbox: { bwrap: '/nonexistent/bwrap' },
    });
    const before = await state();
    const e = await noBwrap.upload(upload('spec-nobox', '1.0.0', { 'n.c': PASS() })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BuildError);
    expect(e).toMatchObject({
      code: 'sandbox_unavailable',
      field: 'sandbox',
      message: expect.stringMatching(/bubblewrap\) is not installed/),
    });
    expect(await state()).toEqual(before);
    // A shipped module still builds there, and says so.
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const report = await noBwrap.analysis('ttl-guard');
      expect(report.module.name).toBe('ttl-guard');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('shows viewers a report without server paths', async () => {
    const r = await sut.upload(upload('spec-paths', '1.0.0', { 'p.c': PASS() }));
    const facts = {
      ...r.report,
      kernel: {
        ...r.report.kernel,
        reason: `bpftool failed: ${join(tmp, 'ioplane-btf-x', 'object.o')} and /sys/fs/bpf/ioplane-1-ab/progs`,
      },
    };
    const text = JSON.stringify(publicReport(facts, cacheDir));
    expect(text).not.toContain(cacheDir);
    expect(text).not.toContain(dirs.root);
    expect(text).not.toContain('/sys/fs/bpf/');
    expect(text).not.toMatch(/"objectPath"/);
    expect(text).not.toMatch(/"-isystem","\//);
    expect(text).toContain('…/object.o');
    expect(scrubServerPaths(`see ${process.cwd()}/var/artifacts/x.o, /usr/include/linux/bpf.h`)).toBe(
      'see …/x.o, /usr/include/linux/bpf.h',
    );
  });

  it('keeps CatalogRefusal typed', () => {
    expect(new CatalogRefusal('vectors_failed', 'x', 'manifest.vectors').code).toBe('vectors_failed');
  });
});
