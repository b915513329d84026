import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedRedis, startEmbeddedRedis } from '@ioplane/runtime';
import { acceptingNotRun, Harness, http, startHarness, waitJob } from './harness';

describe('/metrics after a placement', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    expect((await waitJob(h.apiUrl, (await http(h.apiUrl, 'POST', '/v1/fleet/sync', {})).body.jobId)).state).toBe('completed');
  });
  afterAll(() => h?.stop());

  it('exposes queue depths, job durations, placements by target, MAAS latency, agents and the compile cache', async () => {
    const placed = await http(
      h.apiUrl,
      'POST',
      '/v1/placements',
      acceptingNotRun({ selector: { hostnames: ['edge-a01', 'edge-a04'] }, modules: [{ name: 'acl-firewall' }, { name: 'l4-lb' }] }),
    );
    for (let i = 0; ; i++) {
      const p = (await http(h.apiUrl, 'GET', `/v1/placements/${placed.body.id}`)).body;
      if (['completed', 'failed', 'infeasible'].includes(p.status)) {
        expect(p.status).toBe('completed');
        break;
      }
      expect(i).toBeLessThan(1200);
      await new Promise((r) => setTimeout(r, 50));
    }
    const res = await fetch(`${h.apiUrl}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/ioplane_queue_jobs\{queue="fleet",state="completed"\} [1-9]/);
    expect(text).toMatch(/ioplane_queue_jobs\{queue="rollout",state="completed"\} [1-9]/);
    expect(text).toMatch(/ioplane_job_duration_seconds_count\{queue="fleet",job="fleet-sync",result="completed"\} [1-9]/);
    expect(text).toMatch(/ioplane_job_duration_seconds_bucket\{le="[^"]+",queue="placement",job="plan",result="completed"\}/);
    expect(text).toMatch(/ioplane_placements_by_target\{target="nic-xdp-offload"\} [1-9]/);
    expect(text).toMatch(/ioplane_maas_request_duration_seconds_count\{method="GET",op="machines\/",result="ok"\} [1-9]/);
    expect(text).toMatch(/ioplane_agent_reachable\{system_id="[a-z0-9]+"\} 1/);
    expect(text).toMatch(/ioplane_compile_cache_total\{result="(hit|miss)"\} [1-9]/);
    expect(text).toMatch(/# TYPE ioplane_rollbacks_total counter/);
  });
});

describe('/readyz', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ioplane-ready-'));
  let redis: EmbeddedRedis;
  let h: Harness;
  beforeAll(async () => {
    redis = await startEmbeddedRedis({ dataDir: dir });
    h = await startHarness({ redisUrl: redis.url, agents: false });
  });
  afterAll(async () => {
    await h?.stop().catch(() => undefined);
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const ready = async () => (await fetch(`${h.apiUrl}/readyz`)).status;

  it('fails when Redis stops and recovers when it returns; /healthz stays up', async () => {
    expect(await ready()).toBe(200);
    await redis.stop();
    for (let i = 0; (await ready()) !== 503; i++) expect(i).toBeLessThan(100);
    expect((await fetch(`${h.apiUrl}/healthz`)).status).toBe(200);
    redis = await startEmbeddedRedis({ dataDir: dir, port: redis.port, password: redis.password });
    for (let i = 0; (await ready()) !== 200; i++) {
      expect(i).toBeLessThan(200);
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});
