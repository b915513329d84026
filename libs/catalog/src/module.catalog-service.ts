import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adoptArtifact, SandboxOptions } from '@ioplane/compiler';
import type { FirmwareProfile } from '@ioplane/domain';
import { loadCatalog, ModuleManifest } from '@ioplane/modules';
import type { ModuleRecord, ModuleRepository, ModuleVersion } from '@ioplane/state';
import { buildCatalogModule, CatalogRefusal, catalogMeta, checkArtifact, checkModule, checkObject, CheckOptions } from './module.check';
import { ModuleReport } from './module.report';
import { ModuleUpload, moduleUploadSchema, uploadDigest, uploadedManifest, withUploadedSources } from './module.upload';

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
  constructor(
    readonly field: string,
    what: string,
  ) {
    super(what);
  }
}

/** An upload that would change something immutable: a version that exists, or a shipped module. */
export class CatalogConflict extends Error {
  constructor(
    readonly code: 'version_exists' | 'catalog_module',
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

export interface UploadResult {
  record: ModuleRecord;
  report: ModuleReport;
  /** false: this exact version was uploaded before with the same content; nothing changed. */
  created: boolean;
}

/**
 * The modules ioplane can place: the shipped catalog plus uploads. Reports are cached by
 * artifact digest, so a module is built and checked once however often it is asked for.
 */
export class ModuleCatalog {
  constructor(
    private readonly repo: ModuleRepository,
    private readonly profiles: FirmwareProfile[],
    private readonly opts: {
      cacheDir: string;
      modulesDir?: string;
      kernel?: CheckOptions['kernel'];
      onBuild?: (cached: boolean) => void;
      sandbox?: SandboxOptions;
    },
  ) {}

  /** Where built objects are kept (the API scrubs it from what viewers see). */
  get cacheDir(): string {
    return this.opts.cacheDir;
  }

  private catalog(): ModuleManifest[] {
    return loadCatalog(this.opts.modulesDir);
  }

  async list(): Promise<ModuleSummary[]> {
    const uploaded = await this.repo.listModules();
    const names = new Set(uploaded.map((u) => u.name));
    const shipped = this.catalog()
      .filter((m) => !names.has(m.name))
      .map((m) => summary(m, 'catalog', null));
    return [...shipped, ...uploaded.map((u) => summary(u.manifest as unknown as ModuleManifest, u.origin, u.digest))].sort((a, b) =>
      a.name.localeCompare(b.name),
    );
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
    const options = { cacheDir: this.opts.cacheDir, profiles: this.profiles, kernel: this.opts.kernel, sandbox: this.opts.sandbox };
    if (record) {
      const cached = await this.repo.getReport<ModuleReport>(this.reportKey(record.digest));
      if (cached) return cached;
      const report = await checkObject(
        Buffer.from(record.objectB64, 'base64'),
        { name, version: record.version, program: manifest.program, manifest },
        options,
      );
      await this.repo.putReport(this.reportKey(report.artifact.digest), report);
      return report;
    }
    // Only a module of the shipped catalog gets here: an upload's record is handled above.
    const artifact = await buildCatalogModule(manifest, { ...options, shipped: true });
    this.opts.onBuild?.(artifact.cached);
    const cached = await this.repo.getReport<ModuleReport>(this.reportKey(artifact.digest));
    if (cached) return cached;
    const report = await checkArtifact(artifact, catalogMeta(manifest), options);
    await this.repo.putReport(this.reportKey(artifact.digest), report);
    return report;
  }

  /**
   * Validates, builds and checks an upload; stores it only when all of that succeeded, so a
   * rejected upload leaves nothing behind: it is built and checked in a private staging cache,
   * and only an accepted object moves into the artifact cache. A version, once stored, is
   * immutable, and a shipped module cannot be replaced. Throws zod, build, ELF or catalog errors.
   */
  async upload(body: unknown): Promise<UploadResult> {
    const u = moduleUploadSchema.parse(body);
    const manifest = uploadedManifest(u);
    const { dir: _dir, ...storedManifest } = manifest;
    const content = uploadDigest(storedManifest, { files: u.files, object: u.object });
    const previous = await this.existingVersion(u);
    if (previous && previous.uploadDigest !== content) throw versionConflict(u);

    const staging = await fsp.mkdtemp(join(tmpdir(), 'ioplane-stage-'));
    try {
      const report = await this.checkUpload(u, staging);
      if (previous) {
        const adopted = await this.adopt(report);
        const record = await this.recordOf(u, storedManifest, content, adopted);
        // A version claimed by an upload that died before writing its record is completed now.
        if (!(await this.repo.getModule(record.name))) await this.store(record, adopted);
        return { record, report: adopted, created: false };
      }
      const now = new Date().toISOString();
      const claimed = await this.repo.claimVersion({
        name: u.manifest.name,
        version: u.manifest.version,
        uploadDigest: content,
        digest: report.artifact.digest,
        createdAt: now,
      });
      if (claimed.uploadDigest !== content) throw versionConflict(u);
      const adopted = await this.adopt(report);
      const record = await this.recordOf(u, storedManifest, content, adopted);
      if (claimed.createdAt !== now) return { record, report: adopted, created: false };
      await this.store(record, adopted);
      return { record, report: adopted, created: true };
    } finally {
      await fsp.rm(staging, { recursive: true, force: true });
    }
  }

  /** The stored version of this name and version, if any; a shipped module's name is refused outright. */
  private async existingVersion(u: ModuleUpload): Promise<Pick<ModuleVersion, 'uploadDigest'> | null> {
    const { name, version } = u.manifest;
    if (this.catalog().some((m) => m.name === name)) {
      throw new CatalogConflict(
        'catalog_module',
        `${name} ships with ioplane; an upload cannot replace it (choose another name)`,
        'manifest.name',
      );
    }
    const v = await this.repo.getVersion(name, version);
    if (v) return v;
    // Stored before versions were recorded: the current record is that version's content.
    const r = await this.repo.getModule(name);
    if (r && r.version === version) {
      const { dir: _d, ...m } = r.manifest as Record<string, unknown>;
      return { uploadDigest: r.uploadDigest ?? uploadDigest(m, r.files ? { files: r.files } : { object: r.objectB64 }) };
    }
    return null;
  }

  private async checkUpload(u: ModuleUpload, staging: string): Promise<ModuleReport> {
    const options = { cacheDir: staging, profiles: this.profiles, kernel: this.opts.kernel, sandbox: this.opts.sandbox };
    const report = u.files
      ? await withUploadedSources(u.files, (dir) => checkModule(uploadedManifest(u, dir), options))
      : await checkObject(
          Buffer.from(u.object!, 'base64'),
          { name: u.manifest.name, version: u.manifest.version, program: u.manifest.program, manifest: uploadedManifest(u) },
          options,
        );
    if (report.kernel.verify && !report.kernel.verify.accepted) {
      throw new CatalogRefusal(
        'kernel_refused',
        `the kernel verifier refused the program: ${report.kernel.verify.verifierLog.slice(-3).join(' | ')}`,
        'program',
      );
    }
    const failed = report.vectors?.filter((v) => !v.passed) ?? [];
    if (failed.length) {
      throw new CatalogRefusal(
        'vectors_failed',
        `test vectors failed: ${failed.map((v) => `${v.name}: ${v.reason ?? 'mismatch'}`).join('; ')}`,
        'manifest.vectors',
      );
    }
    return report;
  }

  private async store(record: ModuleRecord, report: ModuleReport): Promise<void> {
    await this.repo.putReport(this.reportKey(report.artifact.digest), report);
    await this.repo.putModule(record);
  }

  /** Moves an accepted object from the staging cache into the artifact cache; the report then names it there. */
  private async adopt(report: ModuleReport): Promise<ModuleReport> {
    return { ...report, artifact: await adoptArtifact(report.artifact, this.opts.cacheDir) };
  }

  private async recordOf(u: ModuleUpload, manifest: Record<string, unknown>, content: string, report: ModuleReport): Promise<ModuleRecord> {
    return {
      name: u.manifest.name,
      version: u.manifest.version,
      origin: u.files ? 'source' : 'object',
      manifest,
      files: u.files,
      objectB64: (await fsp.readFile(report.artifact.objectPath)).toString('base64'),
      digest: report.artifact.digest,
      uploadDigest: content,
      createdAt: new Date().toISOString(),
    };
  }

  private reportKey(digest: string): string {
    return `${digest}:${this.profiles.map((p) => p.id).join(',')}:${this.opts.kernel ?? 'auto'}:${REPORT_FORMAT}`;
  }
}

/** Bumped when a report gains a measured field (2: cost.harnessNs), so reports cached before it are made again. */
const REPORT_FORMAT = 'r2';

function versionConflict(u: ModuleUpload): CatalogConflict {
  return new CatalogConflict(
    'version_exists',
    `${u.manifest.name} ${u.manifest.version} exists with other content; versions are immutable (upload a new version)`,
    'manifest.version',
  );
}

function summary(m: ModuleManifest, origin: ModuleSummary['origin'], digest: string | null): ModuleSummary {
  return { name: m.name, version: m.version, origin, description: m.description, prefer: m.hints.prefer, digest };
}
