import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { privateTmpdir, type PrivateTmpdir } from '@ioplane/compiler/testing';
import { TokenRepository } from '@ioplane/state';
import { Harness, http, startHarness } from './harness';

/**
 * Tried as an attacker with the upload endpoint would: sources that try to read a canary file
 * planted on the controller through every route the build sandbox spec knows, with the contents
 * looked for in every response (to the admin who uploads and the viewer who reads the analysis),
 * every log line and every value stored in Redis. And a hostile build must not stall the API.
 */
const SECRET = randomBytes(16).toString('hex');
const CANARY = `/etc/ioplane-canary-${randomBytes(6).toString('hex')}`;
const ABSENT = `/etc/ioplane-absent-${randomBytes(6).toString('hex')}`;

const XDP = `#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\nSEC("xdp") int pass_all(struct xdp_md *ctx) { return XDP_PASS; }\nchar LICENSE[] SEC("license") = "GPL";\n`;
const b64 = (s: string) => Buffer.from(s).toString('base64');

const READS: Array<[string, (p: string) => string]> = [
  ['include-cr', (p) => `${XDP}int a;\r#define P "${p}"\r_Static_assert(0,\r#include P\r);\r`],
  ['include-ff', (p) => `${XDP}\f#include "${p}"\n`],
  ['include-splice', (p) => `${XDP}#inc\\\nlude "${p}"\n`],
  ['include-macro-path', (p) => `${XDP}#define Q(x) #x\n#define P(x) Q(x)\nint a;\rconst char l[] =\r#include P(${p})\r;\r`],
  ['asm-incbin-macro', (p) => `${XDP}asm(".macro ii n\\n .inc\\\\()\\\\n \\"${p}\\"\\n .endm\\n .section .rodata\\n ii bin\\n");\n`],
  [
    'inline-asm-incbin',
    (p) => `${XDP}int f(void) {\n asm volatile(".macro ii n\\n .inc\\\\()\\\\n \\"${p}\\"\\n .endm\\n ii bin\\n");\n return 0;\n}\n`,
  ],
  ['asm-include-macro', (p) => `${XDP}asm(".macro ii n\\n .inc\\\\()\\\\n \\"${p}\\"\\n .endm\\n ii lude\\n");\n`],
  ['embed-cr', (p) => `${XDP}int a;\rconst char l[] = {\r#embed "${p}"\r};\r`],
  ['line-then-include', (p) => `${XDP}int a;\r#line 1 "/etc/x.c"\rconst char l[] =\r#include "${p.split('/').pop()}"\r;\r`],
];

const PROBES: Array<[string, (p: string) => string]> = [
  ['pragma-dependency', (p) => `#pragma GCC dependency "${p}"\n${XDP}`],
  ['pragma-operator', (p) => `_Pragma("GCC dependency \\"${p}\\"")\n${XDP}`],
  ['has-include-pasted', (p) => `#define CAT(a, b) a##b\n#define HAS CAT(__has_, include)\n#if HAS("${p}")\n#error exists\n#endif\n${XDP}`],
];

function manifest(name: string) {
  return {
    name,
    version: '1.0.0',
    description: 'sandbox attack',
    program: 'pass_all',
    traffic: { pps: 1000, meanPacketBytes: 64 },
    latencyBudgetUs: 50,
    hints: { prefer: 'auto', persistentMaps: [] },
    vectors: [],
  };
}

describe('build sandbox, through the API', () => {
  let h: Harness;
  let viewer: string;
  let logs = '';
  let dirs: PrivateTmpdir;
  let tmp: string;
  let dataDir: string;
  const seen: string[] = [];

  beforeAll(async () => {
    // The API runs in this process: a private TMPDIR holds every temp folder an upload makes.
    dirs = await privateTmpdir('ioplane-sandbox-e2e-');
    tmp = dirs.tmp;
    dataDir = join(dirs.root, 'data');
    await fsp.writeFile(CANARY, `"${SECRET}"\n`, { mode: 0o644 });
    await fsp.chmod(CANARY, 0o644);
    const sink = new Writable({ write: (c, _e, cb) => ((logs += c.toString()), cb()) });
    h = await startHarness({
      worker: false,
      agents: false,
      logLevel: 'debug',
      logDestination: sink as never,
      env: { IOPLANE_DATA_DIR: dataDir },
    });
    viewer = `Bearer ${(await new TokenRepository(h.redis, h.config.IOPLANE_PREFIX).create('e2e-viewer', 'viewer')).token}`;
  });

  afterAll(async () => {
    try {
      await h?.stop();
    } finally {
      await fsp.rm(CANARY, { force: true });
      await dirs?.restore();
    }
  });

  const artifacts = () => fsp.readdir(join(dataDir, 'artifacts')).catch(() => [] as string[]);
  const snapshot = async () => ({
    redis: (await h.redis.keys(`${h.keys.base}:modules*`)).sort(),
    modules: await h.redis.hlen(`${h.keys.base}:modules`),
    reports: await h.redis.hlen(`${h.keys.base}:modules:reports`),
    artifacts: (await artifacts()).sort(),
    tmp: (await fsp.readdir(tmp)).sort(),
  });

  /** Uploads as admin; on acceptance, reads what a viewer can; remembers every body for the final sweep. */
  async function attack(name: string, source: string): Promise<{ status: number; code?: string }> {
    const before = await snapshot();
    const res = await http(h.apiUrl, 'POST', '/v1/modules', { manifest: manifest(name), files: { 'prog.c': b64(source) } });
    seen.push(JSON.stringify(res.body));
    if (res.status === 201) {
      // What a build read ends up in the object: its bytes, as stored and as cached, hold no canary.
      const rec = JSON.parse((await h.redis.hget(`${h.keys.base}:modules`, name))!);
      expect(Buffer.from(rec.objectB64, 'base64').includes(Buffer.from(SECRET))).toBe(false);
      expect((await fsp.readFile(join(dataDir, 'artifacts', `${res.body.digest}.o`))).includes(Buffer.from(SECRET))).toBe(false);
      for (const path of [`/v1/modules/${name}/analysis`, `/v1/modules/${name}`, '/v1/modules']) {
        const v = await http(h.apiUrl, 'GET', path, undefined, { authorization: viewer });
        expect(v.status).toBe(200);
        seen.push(JSON.stringify(v.body));
      }
    } else {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      // Nothing left behind: no object, no report, no record, no temp folder.
      expect(await snapshot()).toEqual(before);
    }
    expect(JSON.stringify(res.body)).not.toContain(SECRET);
    return { status: res.status, code: res.body?.error?.code };
  }

  it('refuses an upload with a viewer token, storing nothing', async () => {
    const before = await snapshot();
    const res = await http(
      h.apiUrl,
      'POST',
      '/v1/modules',
      { manifest: manifest('viewer-upload'), files: { 'prog.c': b64(XDP) } },
      { authorization: viewer },
    );
    expect(res.status).toBe(403);
    expect(await snapshot()).toEqual(before);
  });

  it.each(READS)('read attack %s: the canary is never visible', async (name, source) => {
    await attack(`read-${name}`, source(CANARY));
  });

  it.each(PROBES)('existence probe %s: the canary and a missing file look the same', async (name, source) => {
    const present = await attack(`probe-${name}-a`, source(CANARY));
    const absent = await attack(`probe-${name}-b`, source(ABSENT));
    expect(present).toEqual(absent);
  });

  it('refuses file names that are flags or paths', async () => {
    for (const file of ['-fplugin=x.c', '../x.c', 'a/b.c', '.hidden.c', 'x\u0000.c']) {
      const before = await snapshot();
      const res = await http(h.apiUrl, 'POST', '/v1/modules', { manifest: manifest('bad-name'), files: { [file]: b64(XDP) } });
      expect(res).toMatchObject({ status: 400, body: { error: { code: 'validation' } } });
      expect(await snapshot()).toEqual(before);
    }
  });

  it('keeps /healthz answering while hostile builds run, and refuses them naming the cap or the reason', async () => {
    const macros =
      '#define A "0123456789012345678901234"\n#define B A A A A A A A A A A\n#define C B B B B B B B B B B\n#define D C C C C C C C C C C\n#define E D D D D D D D D D D\n#define F E E E E E E E E E E\n';
    const hostile: Array<[string, string, Record<string, unknown>]> = [
      // ~26 MB of preprocessor output from a few lines: the stream is cut at the cap (16 MiB).
      ['bomb', `${XDP}${macros}const char *s[] = { F F F F F F F F F F };\n`, { code: 'resource_limit', field: 'preprocessedMb' }],
      // ~13 MB, under the cap, of literals full of escapes (seconds to scan in one go): the scan runs
      // in slices before the asm at its end is refused.
      [
        'long-scan',
        `${XDP}${macros.replace('"0123456789012345678901234"', '"\\x30\\x31\\x32\\x33\\x34\\x35"')}const char *s[] = { E E E E E };\nasm(".incbin \\"/etc/hostname\\"");\n`,
        { code: 'asm_refused' },
      ],
    ];
    const latencies: number[] = [];
    for (const [name, source, error] of hostile) {
      const before = await snapshot();
      let done = false;
      const upload = http(h.apiUrl, 'POST', '/v1/modules', { manifest: manifest(name), files: { 'prog.c': b64(source) } }).finally(
        () => (done = true),
      );
      // The API runs in this process: a probe is timed from when it was due (20 ms after the last
      // answer), so an event loop held by the build shows as the late timer an outside client
      // would see as a slow answer.
      let due = performance.now();
      for (let n = 0; !done || n < 5; n++) {
        const r = await fetch(new URL('/healthz', h.apiUrl));
        await r.text();
        const now = performance.now();
        latencies.push(now - due);
        expect(r.status).toBe(200);
        due = now + 20;
        await new Promise((res) => setTimeout(res, 20));
      }
      const res = await upload;
      expect(res).toMatchObject({ status: 400, body: { error: error } });
      expect(await snapshot()).toEqual(before);
    }
    // The bound is 100 ms per answer. On a shared 2-core machine a single probe waits on
    // the scheduler now and then whatever the API does (with no build running, one in a few
    // hundred took 400 ms here under load), so the median carries the bound and no probe may
    // wait for seconds. That the scan itself yields is include.scanner.spec.ts's to show.
    const sorted = [...latencies].sort((a, b) => a - b);
    const median = sorted[sorted.length >> 1];
    if (process.env.E2E_PRINT_LATENCY)
      process.stdout.write(`healthz during hostile builds: ${sorted.map((x) => x.toFixed(1)).join(' ')} ms\n`);
    expect(median).toBeLessThan(100);
    expect(sorted[sorted.length - 1]).toBeLessThan(2000);
  });

  it('never shows the canary in a log line or anything stored in Redis', async () => {
    expect(seen.length).toBeGreaterThan(READS.length);
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).not.toContain(SECRET);
    const keys = await h.redis.keys(`${h.keys.base}:*`);
    for (const k of keys) {
      const type = await h.redis.type(k);
      const value =
        type === 'hash'
          ? JSON.stringify(await h.redis.hgetall(k))
          : type === 'string'
            ? await h.redis.get(k)
            : type === 'list'
              ? JSON.stringify(await h.redis.lrange(k, 0, -1))
              : '';
      expect(value ?? '').not.toContain(SECRET);
    }
    // Objects are stored base64 in the module records: look at their bytes.
    for (const rec of Object.values(await h.redis.hgetall(`${h.keys.base}:modules`))) {
      expect(Buffer.from(JSON.parse(rec).objectB64, 'base64').includes(Buffer.from(SECRET))).toBe(false);
    }
    for (const f of await artifacts())
      expect((await fsp.readFile(join(dataDir, 'artifacts', f))).includes(Buffer.from(SECRET))).toBe(false);
  });
});
