import type { RolloutModule } from './machine.desired';
import { AgentPort, commitMachine, runMachine } from './machine.runbook';
import { MachineRecord, newMachineRecord } from './machine.state';
import { emulatedMachine as machine, firmwareImage, rolloutModule, START, wantOf } from './testing/runbook.fixture';

let mod: RolloutModule;
let dispose: () => Promise<void>;

beforeAll(async () => {
  ({ mod, dispose } = await rolloutModule());
}, 120_000);

afterAll(() => dispose?.());

/** Takes the machine to verified, as its machine job would, with every write kept. */
async function verified(m: ReturnType<typeof machine>) {
  const want = wantOf(mod);
  const writes: MachineRecord[] = [];
  const save = async (r: MachineRecord) => {
    const last = writes[writes.length - 1];
    if (last && r.generation !== last.generation) throw new Error('lost');
    const next = { ...r, generation: r.generation + 1 };
    writes.push(next);
    return next;
  };
  const rec = await runMachine(newMachineRecord('m1', 'h1', 0), want, {
    agent: m.agent,
    sign: () => 'sig',
    save,
    control: async () => 'run',
    firmwareImage,
    probeMs: 5,
  });
  expect(rec.verifiedAt).not.toBeNull();
  return { want, rec, save, writes };
}

describe(commitMachine.name, () => {
  it('commits a port that runs exactly the placement chain', async () => {
    const m = machine();
    const v = await verified(m);
    const done = await commitMachine(v.rec, v.want, { agent: m.agent, save: v.save });
    expect(done.state).toBe('committed');
    expect((await m.nic.programs()).ports[0].current).toMatchObject({
      committed: true,
      modules: [{ name: 'vxlan-decap', digest: mod.digest }],
    });
  });

  it('refuses to commit a port that runs another chain since the health check, and rolls the machine back', async () => {
    const m = machine();
    const v = await verified(m);
    // Another rollout loads its own chain on the port between this one's check and its commit.
    const other = { ...mod, name: 'impostor', object: mod.object.toString('base64'), signature: 'sig' };
    await m.agent.load('m1/nfp0', { target: 'nic-xdp-offload', port: 0, modules: [other] });
    const commits: Array<number | undefined> = [];
    const agent: AgentPort = { ...m.agent, commit: async (d, port) => (commits.push(port), m.agent.commit(d, port)) };
    const done = await commitMachine(v.rec, v.want, { agent, save: v.save });
    expect(done).toMatchObject({
      state: 'rolled-back',
      code: 'commit',
      reason: expect.stringMatching(
        /^commit refused: m1\/nfp0 port 0 runs \[impostor@[0-9a-f]+\], this placement's chain is \[vxlan-decap@[0-9a-f]+\]/,
      ),
    });
    expect(commits).toEqual([]);
    // Nothing was made permanent; the firmware change this placement made is undone.
    expect(m.nic.inventory().profileId).toBe(START);
  });
});
