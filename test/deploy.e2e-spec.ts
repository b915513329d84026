import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { agentToken } from '@ioplane/agent-api';
import { loadOrCreateSecret, loadOrCreateSigningKeys } from '@ioplane/runtime';
import { parseEnvFile } from '../apps/agent/src/agent.env';
import { acceptingNotRun, Harness, hostId, http, runCli, startHarness, syncFleet, until, waitJob } from './harness';

/**
 * A placement with `policy.deploy` on the demo fleet's Ready machines: MAAS (the simulator)
 * deploys them with ioplane's cloud-init, the simulator runs each machine's agent with exactly
 * the settings that cloud-init writes (so a wrong user_data leaves no agent, and this fails), and
 * provisioning then commits the placement's modules on them. A deployment MAAS fails is reported
 * with MAAS's reason and retried per policy.
 */
const PACKAGE_URL = 'http://controller.test:8080/v1/agent-package';

describe('MAAS deploys that install the agent', () => {
  let h: Harness;
  let secret: string;
  let publicKeyPem: string;
  const packages = mkdtempSync(join(tmpdir(), 'ioplane-agent-packages-'));

  beforeAll(async () => {
    h = await startHarness({ env: { IOPLANE_AGENT_PACKAGE_URL: PACKAGE_URL, IOPLANE_AGENT_PACKAGES_DIR: packages } });
    secret = loadOrCreateSecret(h.keysDir, 'agent-token.secret');
    publicKeyPem = loadOrCreateSigningKeys(h.keysDir).publicKeyPem;
    await syncFleet(h);
  }, 90_000);
  afterAll(async () => {
    await h?.stop();
    rmSync(packages, { recursive: true, force: true });
  });

  it('serves the newest agent package per architecture without a token, and says when there is none', async () => {
    expect((await fetch(`${h.apiUrl}/v1/agent-package?arch=arm64`)).status).toBe(404);
    writeFileSync(join(packages, 'ioplane-agent_0.9.0_arm64.deb'), 'old');
    writeFileSync(join(packages, 'ioplane-agent_0.10.0_arm64.deb'), 'new');
    writeFileSync(join(packages, 'ioplane-agent_0.11.0_amd64.deb'), 'other arch');
    const r = await fetch(`${h.apiUrl}/v1/agent-package?arch=arm64`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-disposition')).toBe('attachment; filename="ioplane-agent_0.10.0_arm64.deb"');
    expect(await r.text()).toBe('new');
    const none = await fetch(`${h.apiUrl}/v1/agent-package?arch=s390x`);
    expect(none.status).toBe(404);
    expect(((await none.json()) as { error: unknown }).error).toMatchObject({ code: 'not_found', field: 'arch' });
  });

  /** What the machine's cloud-init would have written, read back from the user_data MAAS received. */
  const written = (systemId: string) => {
    const doc = parse(h.sim.store.get(systemId).userData ?? '') as {
      write_files: Array<{ path: string; content: string; permissions: string }>;
      runcmd: unknown[][];
    };
    const file = (p: string) => doc.write_files.find((f) => f.path === p)!;
    return {
      env: parseEnvFile(file('/etc/ioplane/agent.env').content),
      envMode: file('/etc/ioplane/agent.env').permissions,
      key: file('/etc/ioplane/controller.pub').content,
      runcmd: doc.runcmd,
    };
  };

  it('deploys the Ready machines of a deploy: true placement, retries the one MAAS fails, and commits the modules once their agents answer', async () => {
    const a05 = hostId(h, 'edge-a05');
    const a08 = hostId(h, 'edge-a08');
    const before = { a05: h.sim.agents.get(a05), a08: h.sim.agents.get(a08) };
    h.sim.lifecycle.failNextDeployment(a08, 'curtin: no boot disk found on edge-a08');

    const placed = await http(
      h.apiUrl,
      'POST',
      '/v1/placements',
      acceptingNotRun({
        selector: { hostnames: ['edge-a05', 'edge-a08'] },
        modules: [{ name: 'acl-firewall' }],
        policy: { allowPartial: true, deploy: { retries: 1 } },
      }),
    );
    expect(placed.status).toBe(202);

    const jobs = {
      a05: await waitJob(h.apiUrl, `deploy.${a05}.${placed.body.id}`),
      a08: await waitJob(h.apiUrl, `deploy.${a08}.${placed.body.id}`),
    };
    expect(jobs.a05).toMatchObject({ state: 'completed', attemptsMade: 1 });
    // The failure MAAS reported was retried (release, deploy again) and the second attempt succeeded.
    expect(jobs.a08).toMatchObject({ state: 'completed', attemptsMade: 2 });
    expect(jobs.a08.result).toMatchObject({ deployed: true, releasedFirst: true });
    const errors = h.sim.store.events
      .all()
      .filter((e) => e.systemId === a08 && e.level === 'ERROR')
      .map((e) => `${e.type}: ${e.description}`);
    expect(errors).toContain('Failed deployment: curtin: no boot disk found on edge-a08');

    for (const [name, id] of [
      ['a05', a05],
      ['a08', a08],
    ] as const) {
      const m = h.sim.store.get(id);
      expect(m.status).toBe(6);
      expect(m.distroSeries).toBe('noble');
      // The user_data carries this machine's own token and the controller's key, root-only.
      const w = written(id);
      expect(w.env).toMatchObject({
        AGENT_ID: id,
        AGENT_TOKEN: agentToken(secret, id),
        AGENT_PUBLIC_KEY: '/etc/ioplane/controller.pub',
        AGENT_PORT: String(h.sim.agentPort),
      });
      expect(w.envMode).toBe('0600');
      expect(w.key).toBe(publicKeyPem);
      expect(JSON.stringify(w.runcmd)).toContain(PACKAGE_URL);
      // The agent running now is the one the deployment installed, not the one from before.
      expect(h.sim.agents.get(id)).toBeDefined();
      expect(h.sim.agents.get(id)).not.toBe(before[name]);
    }

    // Provisioning: each machine follows the placement once its agent answers, and commits the module.
    for (const host of ['edge-a05', 'edge-a08']) {
      const follow = await until(
        `a provisioning placement for ${host}`,
        async () => {
          const items = (await http(h.apiUrl, 'GET', '/v1/placements')).body.items as Array<{
            id: string;
            reason: string;
            status: string;
            request: { selector: { hostnames?: string[] } };
          }>;
          return items.find(
            (p) =>
              p.reason === 'provisioning' &&
              p.request.selector.hostnames?.[0] === host &&
              ['completed', 'failed', 'infeasible'].includes(p.status),
          );
        },
        60_000,
      );
      const done = (await http(h.apiUrl, 'GET', `/v1/placements/${follow.id}`)).body;
      expect(done.status).toBe('completed');
      expect(done.rollout.machines.map((m: { hostname: string; state: string }) => [m.hostname, m.state])).toEqual([[host, 'committed']]);
    }
    expect(
      (await h.agent(a05).programs()).devices.flatMap((d) => d.ports.flatMap((p) => p.current?.modules.map((x) => x.name) ?? [])),
    ).toContain('acl-firewall');
  }, 180_000);

  it('ioplane fleet deploy reports a deployment MAAS fails with its reason once the retries are spent', async () => {
    const b09 = hostId(h, 'edge-b09');
    h.sim.lifecycle.failNextDeployment(b09, 'Power on failed: BMC did not answer');
    h.sim.lifecycle.failNextDeployment(b09, 'Power on failed: BMC did not answer');
    const r = await runCli(['--api', h.apiUrl, 'fleet', 'deploy', 'edge-b09', '--retries', '1'], 120_000);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      `edge-b09 (${b09}): failed after 2 attempt(s): MAAS failed to deploy edge-b09: Power on failed: BMC did not answer`,
    );
    expect(h.sim.store.get(b09).status).toBe(11);
    // A later request is a deployment of its own (not the failed job again): this one succeeds.
    const again = await runCli(['--api', h.apiUrl, 'fleet', 'deploy', b09, '--retries', '0'], 120_000);
    expect(again.stdout).toContain(`edge-b09 (${b09}): deployed, agent answering`);
    expect(again.code).toBe(0);
    // Refused up front: a machine that is not a host in the inventory, named by its field.
    const unknown = await http(h.apiUrl, 'POST', '/v1/fleet/deploy', { machines: ['edge-a05', 'no-such-host'] });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ field: 'machines.1' });
  }, 180_000);

  it('a deployment whose user_data does not install the agent leaves no agent running', async () => {
    const c08 = hostId(h, 'core-c08');
    const { MaasClient } = await import('@ioplane/maas');
    const maas = new MaasClient({ url: h.sim.url, apiKey: h.sim.apiKey });
    try {
      await maas.deploy(c08, { user_data: Buffer.from('#cloud-config\nruncmd: [[true]]\n').toString('base64') });
      await until('core-c08 Deployed', async () => (await maas.getMachine(c08)).status === 6, 30_000);
      await until('its old agent gone', async () => !h.sim.agents.has(c08), 10_000);
      const warn = h.sim.store.events.all().find((e) => e.systemId === c08 && e.type === 'ioplane agent');
      expect(warn?.description).toMatch(/no agent after this deployment: write_files has no \/etc\/ioplane\/agent\.env/);
    } finally {
      maas.close();
    }
  }, 60_000);
});
