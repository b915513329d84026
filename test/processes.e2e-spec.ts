import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { Harness, http, startHarness, waitJob } from './harness';
import { runEntry, TS_NODE, type EntryRun } from './ts-entry.fixture';

function run(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<EntryRun> {
  return runEntry(args, { env, timeoutMs });
}

describe('entry points', () => {
  it.each([
    ['apps/api/src/main.ts', { API_PORT: 'eighty' }, 'API_PORT'],
    ['apps/worker/src/main.ts', { REDIS_URL: 'http://nope' }, 'REDIS_URL'],
    ['apps/stack/src/main.ts', { MAAS_API_KEY: 'not-a-key' }, 'MAAS_API_KEY'],
  ])('%s stops on a bad %j naming the variable', async (entry, env, name) => {
    const r = await run([entry], env as Record<string, string>);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`invalid environment variable ${name}`);
  });

  it('npm run fleet-sim serves MAAS alone and prints the URL and key to use', async () => {
    const child: ChildProcessWithoutNullStreams = spawn(TS_NODE[0], [...TS_NODE.slice(1), 'apps/fleet-sim/src/main.ts'], {
      env: { ...process.env, MAAS_PORT: '0', MAAS_API_KEY: 'simck:simtk:simsecret' },
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        // As root it first builds every machine's namespaces, which takes minutes on a busy machine.
        const t = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 240_000);
        child.stdout.on('data', (b) => {
          out += b;
          const m = /MAAS_URL=(\S+)/.exec(out);
          if (m && /MAAS_API_KEY=/.test(out)) {
            clearTimeout(t);
            resolve(m[1]);
          }
        });
      });
      expect(out).toContain('MAAS_API_KEY=simck:simtk:simsecret');
      const version = await (await fetch(new URL('api/2.0/version/', url.endsWith('/') ? url : `${url}/`))).json();
      expect(version).toMatchObject({ version: expect.stringMatching(/^3\./), capabilities: expect.any(Array) });
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  }, 300_000);
});

describe('ioplane CLI', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    const { body } = await http(h.apiUrl, 'POST', '/v1/fleet/sync', {});
    expect((await waitJob(h.apiUrl, body.jobId)).state).toBe('completed');
  });
  afterAll(() => h?.stop());

  it('fleet ls prints every host with its devices and profiles', async () => {
    const r = await run(['apps/cli/src/main.ts', '--api', h.apiUrl, 'fleet', 'ls'], { IOPLANE_TOKEN: h.token });
    expect(r.code).toBe(0);
    for (const host of h.sim.model.hosts) expect(r.stdout).toContain(host.hostname);
    expect(r.stdout).toContain('netronome-agilio-cx-bpf-2.1');
    expect(r.stdout).toContain('unprofiled');
    expect(r.stdout).toMatch(new RegExp(`${h.sim.model.hosts.length} machines`));
  });

  it('fleet ls --json --zone prints machines as JSON', async () => {
    const r = await run(['apps/cli/src/main.ts', '--api', h.apiUrl, 'fleet', 'ls', '--zone', 'zone-a', '--json'], {
      IOPLANE_TOKEN: h.token,
    });
    expect(r.code).toBe(0);
    const machines = JSON.parse(r.stdout);
    expect(machines.length).toBe(h.sim.model.hosts.filter((m) => m.zone === 'zone-a').length);
    expect(machines.every((m: { zone: string }) => m.zone === 'zone-a')).toBe(true);
  });

  it('reports an API error with the field, exit 1', async () => {
    const r = await run(['apps/cli/src/main.ts', '--api', h.apiUrl, 'fleet', 'ls', '--zone', 'bad zone'], { IOPLANE_TOKEN: h.token });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/zone.*field: zone/);
  });
});

describe('ioplane modules check (local, no API)', () => {
  it('prints one JSON document with facts, verdicts, kernel verdict and vectors', async () => {
    const r = await run(
      ['apps/cli/src/main.ts', 'modules', 'check', 'modules/l4-lb', '--profile', 'netronome-agilio-cx-bpf-2.1', '--json'],
      {},
      90_000,
    );
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.program.totalInstructions).toBeGreaterThan(100);
    expect(report.program.helpers.map((h: { name: string }) => h.name)).toContain('bpf_xdp_adjust_head');
    expect(report.maps.map((m: { name: string }) => m.name)).toContain('lb_vips');
    expect(report.verdicts).toEqual([expect.objectContaining({ profileId: 'netronome-agilio-cx-bpf-2.1', accepted: true })]);
    expect(report.kernel).toHaveProperty('available');
  }, 90_000);

  it('prints the verdict per profile as text, and fails clearly on an object for another machine', async () => {
    const ok = await run(['apps/cli/src/main.ts', 'modules', 'check', 'modules/flow-counter', '--no-kernel'], {}, 90_000);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/netronome-agilio-cx-bpf-2\.1\s+REFUSES/);
    expect(ok.stdout).toMatch(/map flow_table of type LRU_HASH is not offloadable/);
    expect(ok.stdout).toMatch(/ESTIMATE/);
    const bad = await run(['apps/cli/src/main.ts', 'modules', 'check', '/bin/true'], {}, 90_000);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/e_machine 62 \(x86-64\), expected 247/);
  }, 90_000);

  it('profiles ls lists every firmware profile', async () => {
    const r = await run(['apps/cli/src/main.ts', 'profiles', 'ls']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/netronome-agilio-cx-bpf-2\.1\s+smartnic/);
    expect(r.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(9);
  });
});
