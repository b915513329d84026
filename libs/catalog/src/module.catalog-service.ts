import { readFileSync } from 'node:fs';
import type { FirmwareProfile } from '@ioplane/domain';
import { loadCatalog, ModuleManifest } from '@ioplane/modules';
import type { ModuleRecord, ModuleRepository } from '@ioplane/state';
import { buildCatalogModule, CatalogRefusal, catalogMeta, checkArtifact, checkModule, checkObject, CheckOptions } from './module.check';
import { ModuleReport } from './module.report';
import { moduleUploadSchema, uploadedManifest, withUploadedSources } from './module.upload';

export interface ModuleSummary {
  name: string;
  version: string;
  origin: 'catalog' | 'source' | 'object';
  description: string;
  prefer: string;
  digest: string | null;
}

export class ModuleNotFound extends Error {
  readonly code = 'not_found';
  constructor(readonly field: string, what: string) {
    super(what);
  }
}

/**
 * The modules ioplane can place: the shipped catalog plus uploads. Reports are cached by
 * artifact digest, so a module is built and checked once however often it is asked for.
 */
export class ModuleCatalog {
  constructor(
    private readonly repo: ModuleRepository,
    private readonly profiles: FirmwareProfile[],
    private readonly opts: { cacheDir: string; modulesDir?: string; kernel?: CheckOptions['kernel']; onBuild?: (cached: boolean) => void },
  ) {}

  private catalog(): ModuleManifest[] {
    return loadCatalog(this.opts.modulesDir);
  }

  async list(): Promise<ModuleSummary[]> {
    const uploaded = await this.repo.listModules();
    const names = new Set(uploaded.map((u) => u.name));
    const shipped = this.catalog().filter((m) => !names.has(m.name)).map((m) => summary(m, 'catalog', null));
    return [...shipped, ...uploaded.map((u) => summary(u.manifest as unknown as ModuleManifest, u.origin, u.digest))].sort((a, b) => a.name.localeCompare(b.name));
  }

  async get(name: string): Promise<{ manifest: ModuleManifest; record: ModuleRecord | null }> {
    const record = await this.repo.getModule(name);
    if (record) return { manifest: record.manifest as unknown as ModuleManifest, record };
    const m = this.catalog().find((x) => x.name === name);
    if (!m) throw new ModuleNotFound('name', `no module named ${name}`);
    return { manifest: m, record: null };
  }

  profile(id: string): FirmwareProfile {
    const p = this.profiles.find((x) => x.id === id);
    if (!p) throw new ModuleNotFound('profile', `no firmware profile ${id}; known: ${this.profiles.map((x) => x.id).join(', ')}`);
    return p;
  }

  /** Builds (or reuses) and checks a module against every profile, caching the report by digest. */
  async analysis(name: string): Promise<ModuleReport> {
    const { manifest, record } = await this.get(name);
    const options = { cacheDir: this.opts.cacheDir, profiles: this.profiles, kernel: this.opts.kernel };
    if (record) {
      const cached = await this.repo.getReport<ModuleReport>(this.reportKey(record.digest));
      if (cached) return cached;
      const report = await checkObject(Buffer.from(record.objectB64, 'base64'), { name, version: record.version, program: manifest.program, manifest }, options);
      await this.repo.putReport(this.reportKey(report.artifact.digest), report);
      return report;
    }
    const artifact = await buildCatalogModule(manifest, options);
    this.opts.onBuild?.(artifact.cached);
    const cached = await this.repo.getReport<ModuleReport>(this.reportKey(artifact.digest));
    if (cached) return cached;
    const report = await checkArtifact(artifact, catalogMeta(manifest), options);
    await this.repo.putReport(this.reportKey(artifact.digest), report);
    return report;
  }

  /**
   * Validates, builds and checks an upload; stores it only when all of that succeeded, so a
   * rejected upload leaves the catalog as it was. Throws zod, build, ELF or catalog errors.
   */
  async upload(body: unknown): Promise<{ record: ModuleRecord; report: ModuleReport }> {
    const u = moduleUploadSchema.parse(body);
    const options = { cacheDir: this.opts.cacheDir, profiles: this.profiles, kernel: this.opts.kernel };
    const report = u.files
      ? await withUploadedSources(u.files, (dir) => checkModule(uploadedManifest(u, dir), options))
      : await checkObject(Buffer.from(u.object!, 'base64'), { name: u.manifest.name, version: u.manifest.version, program: u.manifest.program, manifest: uploadedManifest(u) }, options);
    if (report.kernel.verify && !report.kernel.verify.accepted) {
      throw new CatalogRefusal('kernel_refused', `the kernel verifier refused the program: ${report.kernel.verify.verifierLog.slice(-3).join(' | ')}`, 'program');
    }
    const failed = report.vectors?.filter((v) => !v.passed) ?? [];
    if (failed.length) {
      throw new CatalogRefusal('vectors_failed', `test vectors failed: ${failed.map((v) => `${v.name}: ${v.reason ?? 'mismatch'}`).join('; ')}`, 'manifest.vectors');
    }
    const record: ModuleRecord = {
      name: u.manifest.name,
      version: u.manifest.version,
      origin: u.files ? 'source' : 'object',
      manifest: { ...uploadedManifest(u) },
      files: u.files,
      objectB64: readFileSync(report.artifact.objectPath).toString('base64'),
      digest: report.artifact.digest,
      createdAt: new Date().toISOString(),
    };
    delete (record.manifest as { dir?: string }).dir;
    await this.repo.putReport(this.reportKey(report.artifact.digest), report);
    await this.repo.putModule(record);
    return { record, report };
  }

  private reportKey(digest: string): string {
    return `${digest}:${this.profiles.map((p) => p.id).join(',')}:${this.opts.kernel ?? 'auto'}`;
  }
}

function summary(m: ModuleManifest, origin: ModuleSummary['origin'], digest: string | null): ModuleSummary {
  return { name: m.name, version: m.version, origin, description: m.description, prefer: m.hints.prefer, digest };
}
