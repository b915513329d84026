import type { Redis } from 'ioredis';
import { ModuleRecord, ModuleRepository, ModuleVersion } from './module.repository';
import { StateKeys } from './state.keys';

export class RedisModuleRepository implements ModuleRepository {
  private readonly keys: StateKeys;
  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = new StateKeys(prefix);
  }

  async putModule(r: ModuleRecord): Promise<void> {
    await this.redis.hset(this.keys.modules, r.name, JSON.stringify(r));
  }

  async claimVersion(v: ModuleVersion): Promise<ModuleVersion> {
    const field = `${v.name}@${v.version}`;
    if (await this.redis.hsetnx(this.keys.moduleVersions, field, JSON.stringify(v))) return v;
    const s = await this.redis.hget(this.keys.moduleVersions, field);
    if (!s) throw new Error(`module version ${field} vanished while claiming it`);
    return JSON.parse(s) as ModuleVersion;
  }

  async getVersion(name: string, version: string): Promise<ModuleVersion | null> {
    const s = await this.redis.hget(this.keys.moduleVersions, `${name}@${version}`);
    return s ? (JSON.parse(s) as ModuleVersion) : null;
  }

  async getModule(name: string): Promise<ModuleRecord | null> {
    const s = await this.redis.hget(this.keys.modules, name);
    return s ? (JSON.parse(s) as ModuleRecord) : null;
  }

  async listModules(): Promise<ModuleRecord[]> {
    return (await this.redis.hvals(this.keys.modules))
      .map((s) => JSON.parse(s) as ModuleRecord)
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async putReport(key: string, report: unknown): Promise<void> {
    await this.redis.hset(this.keys.moduleReports, key, JSON.stringify(report));
  }

  async getReport<T>(key: string): Promise<T | null> {
    const s = await this.redis.hget(this.keys.moduleReports, key);
    return s ? (JSON.parse(s) as T) : null;
  }
}
