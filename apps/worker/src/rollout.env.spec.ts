import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MachineRecord, MachineSlice, newMachineRecord, sliceMachines } from '@ioplane/rollout';
import { artifactRef, objectBytes, plannedMachine } from '@ioplane/rollout/testing';
import type { FleetRepository, ObservedPlacement, PlacementRepository, RolloutRepository } from '@ioplane/state';
import type { MaasClient } from '@ioplane/maas';
import { rolloutEnv } from './rollout.env';

const bytes = objectBytes;
const ref = artifactRef;
const machine = (systemId: string, modules: string[]) => plannedMachine(systemId, modules, 'x710-host');

/** Any call into the placement repository (the whole plan, the placement record) fails the test. */
const noPlacementReads = new Proxy({} as PlacementRepository, {
  get: (_t, k) => () => {
    throw new Error(`the rollout read placements.${String(k)}`);
  },
});

function sut() {
  const slices: Record<string, MachineSlice> = sliceMachines(
    'pl-1',
    [machine('s1', ['acl', 'lb']), machine('s2', ['acl'])],
    [
      { name: 'acl', artifact: ref('acl') },
      { name: 'lb', artifact: ref('lb') },
    ],
    true,
  );
  const objects = new Map([ref('acl'), ref('lb')].map((r) => [r.digest, bytes(r.name)]));
  const reads = { slices: [] as string[], artifacts: [] as string[] };
  const observed = new Map<string, ObservedPlacement>();
  const rollouts = {
    machineSlice: async (_p: string, systemId: string) => (reads.slices.push(systemId), slices[systemId] ?? null),
    artifact: async (digest: string) => (reads.artifacts.push(digest), objects.get(digest) ?? null),
    observed: async (id: string) => observed.get(id) ?? null,
    setObserved: async (o: ObservedPlacement) => void observed.set(o.systemId, o),
  } as unknown as RolloutRepository;
  const fleet = { getMachine: async () => null } as unknown as FleetRepository;
  const maas = { setWorkloadAnnotations: async () => undefined } as unknown as MaasClient;
  const env = rolloutEnv({
    rollouts,
    placements: noPlacementReads,
    fleet,
    profiles: [],
    maas,
    keys: { privateKeyPem: '', agentTokenSecret: '' },
    log: () => undefined,
  });
  return { env, reads, observed };
}

describe(rolloutEnv.name, () => {
  it("builds each machine's desired state from its own slice and the bytes by digest, reading no plan", async () => {
    const { env, reads } = sut();
    const [s1, s2] = await Promise.all([env.desired('pl-1', 's1'), env.desired('pl-1', 's2')]);
    expect(s1.chains.flatMap((c) => c.modules.map((m) => [m.name, m.digest, m.object.toString()]))).toEqual([
      ['acl', ref('acl').digest, bytes('acl').toString()],
      ['lb', ref('lb').digest, bytes('lb').toString()],
    ]);
    expect(s2.chains.flatMap((c) => c.modules.map((m) => m.name))).toEqual(['acl']);
    expect(s1.acceptNotRun).toBe(true);
    expect(reads.slices.sort()).toEqual(['s1', 's2']);
    // An object is fetched once per process, however many machines ship it.
    expect(reads.artifacts.sort()).toEqual([ref('acl').digest, ref('lb').digest].sort());
  });

  it('records a commit with the profile ids of its slice, reading no plan', async () => {
    const { env, observed } = sut();
    const want = await env.desired('pl-1', 's2');
    const rec: MachineRecord = { ...newMachineRecord('s2', 'h-s2', 0), state: 'committed' };
    await env.onCommitted('pl-1', rec, want);
    expect(observed.get('s2')?.modules).toEqual([
      expect.objectContaining({ name: 'acl', digest: ref('acl').digest, profileId: 'x710-host' }),
    ]);
  });

  it('a machine without a slice is refused, not looked up in the plan', async () => {
    await expect(sut().env.desired('pl-1', 's9')).rejects.toThrow(/no part in the rollout/);
  });
});

// The plan fixed every build the rollout ships: the rollout's code and its wiring never reach the catalog.
describe('rollout without the module catalog', () => {
  const root = join(__dirname, '../../..');
  const sources = [
    ...readdirSync(join(root, 'libs/rollout/src'))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'))
      .map((f) => join('libs/rollout/src', f)),
    ...readdirSync(__dirname)
      .filter((f) => /^rollout\..*\.ts$/.test(f) && !f.endsWith('.spec.ts'))
      .map((f) => join('apps/worker/src', f)),
  ];

  it.each(sources)('%s imports nothing of @ioplane/catalog', (file) => {
    expect(readFileSync(join(root, file), 'utf8')).not.toMatch(/@ioplane\/catalog|ModuleCatalog/);
  });

  it("the worker's orchestrator is not injected the catalog", () => {
    const module = readFileSync(join(__dirname, 'worker.module.ts'), 'utf8');
    const provider = module.slice(module.indexOf('provide: ROLLOUT_ORCHESTRATOR'));
    expect(provider.slice(0, provider.indexOf('inject:') + 200).match(/inject: \[[^\]]*\]/)?.[0]).not.toMatch(/MODULE_CATALOG/);
  });
});
