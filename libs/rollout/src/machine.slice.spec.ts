import { desiredFromSlice, sliceMachines } from './machine.slice';
import { artifactRef, objectBytes, plannedMachine } from './testing/slice.fixture';

const bytes = objectBytes;
const ref = artifactRef;
const machine = plannedMachine;
const store = (objects: Record<string, Buffer>) => async (digest: string) => objects[digest] ?? null;

describe(sliceMachines.name, () => {
  const plan = [
    { name: 'acl', artifact: ref('acl') },
    { name: 'lb', artifact: ref('lb') },
    { name: 'ddos', artifact: ref('ddos') },
  ];

  it('gives each machine its own plan and only the artifacts of the modules it runs', () => {
    const slices = sliceMachines('pl-1', [machine('s1', ['acl', 'ddos']), machine('s2', ['lb'])], plan, false);
    expect(Object.keys(slices)).toEqual(['s1', 's2']);
    expect(slices.s1.plan.systemId).toBe('s1');
    expect(slices.s1.modules.map((m) => m.name)).toEqual(['acl', 'ddos']);
    expect(slices.s2.modules.map((m) => m.name)).toEqual(['lb']);
    expect(slices.s1.order).toEqual(['acl', 'lb', 'ddos']);
    expect(slices.s1.acceptNotRun).toBeUndefined();
    expect(sliceMachines('pl-1', [machine('s1', ['acl'])], plan, true).s1.acceptNotRun).toBe(true);
  });

  it('refuses a plan whose modules carry no artifact reference, with a code', () => {
    expect(() => sliceMachines('pl-1', [machine('s1', ['acl'])], [{ name: 'acl' }], false)).toThrow(
      expect.objectContaining({ code: 'plan_without_artifacts' }),
    );
  });
});

describe(desiredFromSlice.name, () => {
  const slice = sliceMachines(
    'pl-1',
    [machine('s1', ['acl', 'lb'])],
    [
      { name: 'acl', artifact: ref('acl') },
      { name: 'lb', artifact: ref('lb') },
    ],
    true,
  ).s1;

  it('ships the bytes stored under each digest, in chain order, with the operator word', async () => {
    const want = await desiredFromSlice(slice, store({ [ref('acl').digest]: bytes('acl'), [ref('lb').digest]: bytes('lb') }));
    expect(want.chains).toHaveLength(1);
    expect(want.chains[0].modules.map((m) => [m.name, m.object.toString()])).toEqual([
      ['acl', bytes('acl').toString()],
      ['lb', bytes('lb').toString()],
    ]);
    expect(want.acceptNotRun).toBe(true);
  });

  it('refuses bytes that do not hash to their address, and a missing object', async () => {
    await expect(
      desiredFromSlice(slice, store({ [ref('acl').digest]: bytes('acl'), [ref('lb').digest]: bytes('other build') })),
    ).rejects.toMatchObject({ code: 'artifact_digest_mismatch' });
    await expect(desiredFromSlice(slice, store({ [ref('acl').digest]: bytes('acl') }))).rejects.toMatchObject({ code: 'artifact_missing' });
  });
});
