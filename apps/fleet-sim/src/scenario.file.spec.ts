import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadScenario, parseScenario, ppsAt, ScenarioFileError, trafficAt } from './scenario.file';

describe('scenario files', () => {
  it('loads every shipped scenario', () => {
    const dir = join(__dirname, '..', '..', '..', 'scenarios');
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.yaml'))) expect(loadScenario(join(dir, f)).steps).toBeGreaterThan(0);
  });

  it('a file that cannot be read is a scenario error naming the file, not a bare ENOENT', () => {
    const missing = join(__dirname, 'no-such-dir', 'missing.yaml');
    expect(() => loadScenario(missing)).toThrow(ScenarioFileError);
    expect(() => loadScenario(missing)).toThrow(expect.objectContaining({ code: 'invalid_scenario', field: 'file', file: missing }));
  });

  it('gives each pattern its pps per step', () => {
    expect([0, 4, 5, 6, 7].map((s) => ppsAt({ kind: 'surge', base: 10, factor: 50, from: 5, steps: 2 }, s))).toEqual([
      10, 10, 500, 500, 10,
    ]);
    expect([0, 2, 3, 4, 9].map((s) => ppsAt({ kind: 'ramp', start: 100, end: 200, from: 2, to: 4 }, s))).toEqual([100, 100, 150, 200, 200]);
    expect([0, 1, 2, 3, 4].map((s) => ppsAt({ kind: 'oscillate', low: 1, high: 9, period: 2, from: 0 }, s))).toEqual([1, 1, 9, 9, 1]);
  });

  it('lets a later entry override an earlier one for the same machine and module', () => {
    const sc = parseScenario(`
name: t
steps: 3
traffic:
  - { selector: { zones: [zone-c] }, module: ddos-drop, pattern: { kind: constant, pps: 5 } }
  - { selector: { hostnames: [core-c01] }, module: ddos-drop, pattern: { kind: constant, pps: 7 } }
`);
    const m = (hostname: string) => ({ hostname, zone: 'zone-c', pool: 'core', tags: [] });
    expect(trafficAt(sc, m('core-c01'), 0)).toEqual({ 'ddos-drop': 7 });
    expect(trafficAt(sc, m('core-c02'), 0)).toEqual({ 'ddos-drop': 5 });
    expect(trafficAt(sc, { ...m('edge-a01'), zone: 'zone-a' }, 0)).toEqual({});
  });

  it('names the field of a bad scenario', () => {
    const bad = () =>
      parseScenario(
        'name: t\nsteps: 3\ntraffic:\n  - { selector: {}, module: x, pattern: { kind: surge, base: 1, factor: -2, from: 0, steps: 1 } }\n',
        'bad.yaml',
      );
    expect(bad).toThrow(ScenarioFileError);
    expect(bad).toThrow(/^bad\.yaml: traffic\.0\.pattern\.factor: /);
  });
});
