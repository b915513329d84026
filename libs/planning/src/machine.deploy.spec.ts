import type { RawMachine } from '@ioplane/maas';
import { deployMachine, DeployError, type DeployMaas } from './machine.deploy';

/** A MAAS whose machine walks the given statuses, one per read, the last one repeating. */
function fakeMaas(initial: number, afterDeploy: number[], afterRelease: number[] = [12, 4]) {
  let queue: number[] = [initial];
  const calls: string[] = [];
  const machine = (status: number): RawMachine =>
    ({
      system_id: 'abc',
      hostname: 'edge-1',
      status,
      status_name: String(status),
      error_description: status === 11 ? 'curtin: no disk' : '',
    }) as unknown as RawMachine;
  const maas: DeployMaas = {
    getMachine: async () => machine(queue.length > 1 ? queue.shift()! : queue[0]),
    deploy: async (_id, opts) => {
      calls.push(`deploy ${opts.distro_series} ${Buffer.from(opts.user_data!, 'base64').toString()}`);
      queue = [...afterDeploy];
      return machine(9);
    },
    release: async () => {
      calls.push('release');
      queue = [...afterRelease];
      return machine(12);
    },
  };
  return { maas, calls };
}

const deps = (maas: DeployMaas, answers = true) => ({
  maas,
  userData: (id: string) => `#cloud-config for ${id}`,
  agentAnswers: async () => answers,
  distroSeries: 'noble',
  timeoutMs: 5_000,
  pollMs: 1,
});

describe('deployMachine', () => {
  it('deploys a Ready machine with its user data and waits for Deployed and its agent', async () => {
    const f = fakeMaas(4, [9, 9, 6]);
    await expect(deployMachine('abc', deps(f.maas))).resolves.toEqual({
      systemId: 'abc',
      hostname: 'edge-1',
      deployed: true,
      releasedFirst: false,
    });
    expect(f.calls).toEqual(['deploy noble #cloud-config for abc']);
  });

  it("reports MAAS's reason when the deployment fails", async () => {
    const f = fakeMaas(4, [9, 11]);
    const err = await deployMachine('abc', deps(f.maas)).catch((e) => e);
    expect(err).toBeInstanceOf(DeployError);
    expect(err).toMatchObject({
      code: 'deploy_failed',
      reason: 'curtin: no disk',
      message: 'MAAS failed to deploy edge-1: curtin: no disk',
    });
  });

  it('retrying after a failure releases the machine first, then deploys again', async () => {
    const f = fakeMaas(11, [9, 6]);
    await expect(deployMachine('abc', deps(f.maas))).resolves.toMatchObject({ deployed: true, releasedFirst: true });
    expect(f.calls).toEqual(['release', 'deploy noble #cloud-config for abc']);
  });

  it('asks nothing of MAAS for a machine already Deployed, but still wants its agent to answer', async () => {
    const f = fakeMaas(6, []);
    await expect(deployMachine('abc', deps(f.maas))).resolves.toMatchObject({ deployed: false });
    expect(f.calls).toEqual([]);
    await expect(deployMachine('abc', deps(f.maas, false))).rejects.toMatchObject({ code: 'agent_silent' });
  });

  it('refuses a machine MAAS cannot deploy, and gives up after its deadline', async () => {
    await expect(deployMachine('abc', deps(fakeMaas(8, []).maas))).rejects.toMatchObject({ code: 'not_deployable' });
    await expect(deployMachine('abc', { ...deps(fakeMaas(4, [9]).maas), timeoutMs: 20 })).rejects.toMatchObject({ code: 'deploy_timeout' });
  });
});
