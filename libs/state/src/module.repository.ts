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
  createdAt: string;
}

export interface ModuleRepository {
  putModule(r: ModuleRecord): Promise<void>;
  getModule(name: string): Promise<ModuleRecord | null>;
  listModules(): Promise<ModuleRecord[]>;
  /** Reports are keyed by artifact digest and profile set: a digest never changes meaning. */
  putReport(key: string, report: unknown): Promise<void>;
  getReport<T>(key: string): Promise<T | null>;
}
