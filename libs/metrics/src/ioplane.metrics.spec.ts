import { ROLLOUT_FAILURE_CODES, type MachineRecord, type RolloutFailureCode } from '@ioplane/rollout';
import { IoplaneMetrics, rollbackReason } from './ioplane.metrics';

/** A machine record as the rollout stores it: a code and a message. */
const record = (code: RolloutFailureCode, reason: string): Pick<MachineRecord, 'code' | 'reason'> => ({ code, reason });

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

  it("labels a rollback by its record's code, whatever its message says", () => {
    // Each message names another kind than its code: a classification by text would follow the message.
    expect(rollbackReason(record('flash', 'verify m1/nfp0: test vectors failed'))).toBe('flash');
    expect(rollbackReason(record('health', 'flash of m1/nfp0 to agilio-ebpf: fell_back'))).toBe('health_check');
    expect(rollbackReason(record('load', 'module x: bad signature'))).toBe('load');
    expect(rollbackReason(record('wave-halted', 'rolled back by the operator'))).toBe('wave_halted');
    expect(rollbackReason(record('commit', 'load refused'))).toBe('commit');
  });

  it('gives one label per code, and other for records without one', () => {
    const labels = ROLLOUT_FAILURE_CODES.map((code) => rollbackReason({ code }));
    expect(new Set(labels).size).toBe(ROLLOUT_FAILURE_CODES.length);
    expect(rollbackReason({ code: null })).toBe('other');
    expect(rollbackReason({})).toBe('other');
  });
});
