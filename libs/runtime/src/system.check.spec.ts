import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onPath, SystemCheckError, systemCheck } from './system.check';

describe('systemCheck', () => {
  it('finds tools on PATH', () => {
    expect(onPath('sh')).toBe(true);
    expect(onPath('definitely-not-a-tool-ioplane')).toBe(false);
  });

  it('names the missing tools and the exact install command when it may not install', () => {
    const empty = mkdtempSync(join(tmpdir(), 'ioplane-path-'));
    const saved = process.env.PATH;
    // sbin is always searched, so only tools outside it can be made to disappear.
    process.env.PATH = empty;
    try {
      systemCheck({ install: false, log: () => undefined });
      throw new Error('expected SystemCheckError');
    } catch (e) {
      expect(e).toBeInstanceOf(SystemCheckError);
      const err = e as SystemCheckError;
      expect(err.missing).toContain('redis-server');
      expect(err.message).toMatch(/apt-get install -y .*redis-server/);
    } finally {
      process.env.PATH = saved;
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
