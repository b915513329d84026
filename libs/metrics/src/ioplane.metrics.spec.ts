import { IoplaneMetrics, rollbackReason } from './ioplane.metrics';

describe(IoplaneMetrics.name, () => {
  it('exports job durations, MAAS calls and errors in Prometheus text', async () => {
    const m = new IoplaneMetrics();
    m.observeJob('rollout', { name: 'rollout-machine', processedOn: 1000, finishedOn: 3500 }, 'completed');
    m.onMaasCall({ method: 'GET', op: 'machines/', ok: false, code: 'unavailable', seconds: 0.2 });
    const text = await m.registry.metrics();
    expect(text).toMatch(/ioplane_job_duration_seconds_sum\{queue="rollout",job="rollout-machine",result="completed"\} 2\.5/);
    expect(text).toMatch(/ioplane_maas_errors_total\{code="unavailable"\} 1/);
    expect(text).toMatch(/ioplane_maas_request_duration_seconds_count\{method="GET",op="machines\/",result="error"\} 1/);
  });

  it('folds free-text rollback reasons into a closed set', () => {
    expect(rollbackReason('flash of x to y: fell_back: injected')).toBe('flash');
    expect(rollbackReason('verify a/b: test vectors failed: ...')).toBe('health_check');
    expect(rollbackReason('module x: bad signature')).toBe('signature');
    expect(rollbackReason(null)).toBe('other');
  });
});
