import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { multiarchTriplet, onPath, REQUIRED_TOOLS, SystemCheckError, systemCheck } from './system.check';

function errorOf(fn: () => unknown): SystemCheckError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SystemCheckError);
    return e as SystemCheckError;
  }
  throw new Error('expected SystemCheckError');
}

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
      const err = errorOf(() => systemCheck({ install: false, log: () => undefined }));
      expect(err.missing).toContain('redis-server');
      expect(err.message).toMatch(/apt-get install -y .*redis-server/);
    } finally {
      process.env.PATH = saved;
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('checks a package without a command by a file it installs', () => {
    const err = errorOf(() =>
      systemCheck({
        install: false,
        tests: true,
        requirements: [{ file: '/nonexistent/ioplane/xdp-dispatcher.o', packages: ['libxdp1'] }],
      }),
    );
    expect(err.missing).toEqual(['/nonexistent/ioplane/xdp-dispatcher.o']);
    expect(err.installCommand).toBe('sudo apt-get update && sudo apt-get install -y libxdp1');
  });

  it('asks for the test-only packages only when checking for the test suite', () => {
    const onlyForTests = [{ command: 'definitely-not-a-tool-ioplane', packages: ['chromium'], testsOnly: true }];
    expect(systemCheck({ install: false, requirements: onlyForTests })).toEqual({ missing: [], installed: [] });
    expect(errorOf(() => systemCheck({ install: false, tests: true, requirements: onlyForTests })).installCommand).toMatch(
      /install -y chromium$/,
    );
  });

  it('asks for the packaging tools when checking for `npm run package`, without the browser', () => {
    const reqs = [
      { command: 'definitely-not-a-tool-ioplane', packages: ['lintian'], testsOnly: true, packaging: true },
      { command: 'definitely-not-a-tool-ioplane2', packages: ['chromium'], testsOnly: true },
    ];
    expect(errorOf(() => systemCheck({ install: false, packaging: true, requirements: reqs })).installCommand).toMatch(
      /install -y lintian$/,
    );
  });

  it('covers what the suite needs: the browser, the packaging tools, libxdp for this architecture', () => {
    const pkgs = REQUIRED_TOOLS.flatMap((r) => r.packages);
    for (const p of [
      'chromium',
      'lintian',
      'systemd',
      'bubblewrap',
      'redis-sentinel',
      'ethtool',
      'libxdp1',
      'libbpf-dev',
      'dpkg-dev',
      'binutils',
    ])
      expect(pkgs).toContain(p);
    expect(multiarchTriplet('x64')).toBe('x86_64-linux-gnu');
    expect(multiarchTriplet('arm64')).toBe('aarch64-linux-gnu');
    expect(REQUIRED_TOOLS.find((r) => r.packages.includes('libxdp1'))!.file).toBe(`/usr/lib/${multiarchTriplet()}/bpf/xdp-dispatcher.o`);
  });
});
