/** A module someone uploaded (the catalog on disk is not stored: it ships with ioplane). */
export interface ModuleRecord {
  name: string;
  version: string;
  origin: 'source' | 'object';
  /** The validated manifest, without its on-disk folder. */
  manifest: Record<string, unknown>;
  /** Source files (name -> base64) for a source upload. */
  files?: Record<string, string>;
  /** The BPF object, base64: every worker can rebuild its cache from it. */
  objectB64: string;
  digest: string;
  /** sha256 over the upload as given (manifest, then each file's bytes, or the object's): what "same content" means. */
  uploadDigest?: string;
  createdAt: string;
}

/** One uploaded version of a module: versions are immutable, so the first upload of one fixes its content. */
export interface ModuleVersion {
  name: string;
  version: string;
  uploadDigest: string;
  /** Artifact digest of its build. */
  digest: string;
  createdAt: string;
}

export interface ModuleRepository {
  putModule(r: ModuleRecord): Promise<void>;
  /**
   * Records a version unless one of that name and version exists (atomically: of two racing
   * uploads exactly one wins). Returns the stored version, ours or the one that was there.
   */
  claimVersion(v: ModuleVersion): Promise<ModuleVersion>;
  getVersion(name: string, version: string): Promise<ModuleVersion | null>;
  getModule(name: string): Promise<ModuleRecord | null>;
  listModules(): Promise<ModuleRecord[]>;
  /** Reports are keyed by artifact digest and profile set: a digest never changes meaning. */
  putReport(key: string, report: unknown): Promise<void>;
  getReport<T>(key: string): Promise<T | null>;
}
