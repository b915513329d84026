import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '../../..');
/** Controller-side code: it signs and sends through @ioplane/agent-api and never loads a device driver. */
const CONTROLLER = [
  'apps/worker/src',
  'apps/api/src',
  'libs/planning/src',
  'libs/rollout/src',
  'libs/runtime/src',
  'libs/composition/src',
  'libs/inventory/src',
  'libs/state/src',
  'libs/queue/src',
];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    // Specs and test-only faces (`testing/`, which production code never imports: fleet.fixture.spec
    // checks) may drive an emulated device in process in place of an agent.
    if (statSync(path).isDirectory()) return name === 'testing' ? [] : sources(path);
    return name.endsWith('.ts') && !name.endsWith('.spec.ts') ? [path] : [];
  });
}

describe('controller layering', () => {
  it('no controller-side source imports @ioplane/devices (the agent-side drivers)', () => {
    const offenders = CONTROLLER.flatMap((d) => sources(join(ROOT, d))).filter((f) =>
      /from '@ioplane\/devices'/.test(readFileSync(f, 'utf8')),
    );
    expect(offenders.map((f) => relative(ROOT, f))).toEqual([]);
  });
});
