import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { loadConfigOrExit, systemCheck } from '@ioplane/runtime';
import { orderHostsWithDpus, renderFleetTable } from '@ioplane/inventory';
import type { StoredPlan } from '@ioplane/planning';
import { IoplaneApi } from '../../cli/src/api.client';
import { fetchFleet, fleetSummary, syncFleet } from '../../cli/src/fleet.command';
import { renderPlan } from '../../cli/src/placement.command';
import { renderRollout, watchPlacement } from '../../cli/src/status.command';
import type { MachineRecord } from '@ioplane/rollout';
import { renderHops } from './demo.hops';
import { startStack } from './stack';

/**
 * `npm run demo`: the main job on the embedded default. Boots the stack, reads the fleet from
 * MAAS, places the example modules (plan, flash where needed, load, verify, commit, in waves),
 * prints the per-machine result, shuts everything down. Exit 0 only when the placement completed.
 */
async function demo(): Promise<number> {
  // Free ports unless the operator chose them, so a demo never collides with a running ioplane.
  const config = loadConfigOrExit({ API_PORT: '0', MAAS_PORT: '0', AGENT_PORT: '0', LOG_LEVEL: 'warn', ...process.env });
  systemCheck();
  const out = (s: string) => process.stdout.write(`${s}\n`);
  const file = process.env.DEMO_PLACEMENT ?? 'placements/example.yaml';
  // Device times (flash, activation) run 100x faster than the hardware's so the demo takes seconds.
  const stack = await startStack(config, { schedules: false, agentTimeScale: Number(process.env.DEMO_TIME_SCALE ?? 0.01) });
  try {
    const modes = stack.agents
      ? Object.entries(stack.agents.modes)
          .map(([m, n]) => `${n} ${m}`)
          .join(', ')
      : 'none';
    out(
      `ioplane demo: api ${stack.apiUrl}, MAAS ${stack.maasUrl}${stack.embedded.maas ? ' (simulator)' : ''}, redis ${stack.embedded.redis ? 'embedded' : 'REDIS_URL'}, agents ${stack.agents?.count ?? 0} (host XDP: ${modes})`,
    );
    // Without root the agents cannot run XDP: every hop is emulated and no packet is judged by a kernel.
    const emulated = stack.agents?.modes.emulated ?? 0;
    if (emulated > 0) {
      out(
        `NOT RUN IN A KERNEL: ${emulated} of ${stack.agents!.count} agents have no kernel (run as root for real XDP); their hops are emulated, their test vectors and probes do not run, and this demo accepts that explicitly (policy.acceptNotRun)`,
      );
    }
    const access = await stack.issueToken('demo', 'operator');
    const api = new IoplaneApi(stack.apiUrl, access.token);

    out('\nstep 1/3: fleet sync from MAAS');
    const sync = await syncFleet(api, { wait: true });
    if (sync.state !== 'completed') {
      out(`fleet sync ${sync.jobId} ${sync.state}: ${sync.failedReason ?? ''}`);
      return 1;
    }
    const fleet = await fetchFleet(api, { dpus: true });
    out(renderFleetTable(orderHostsWithDpus(fleet.items)));
    out(fleetSummary(fleet));

    out(`\nstep 2/3: plan ${file}`);
    const request = parse(readFileSync(file, 'utf8')) as { policy?: Record<string, unknown> } & Record<string, unknown>;
    if (emulated > 0) request.policy = { ...request.policy, acceptNotRun: true };
    const submitted = await api.request<{ id: string }>('POST', '/v1/placements', request);
    const planned = await watchPlacement(api, submitted.id, { bar: false, intervalMs: 100 }).catch(() => null);
    void planned;
    const plan = await api.request<StoredPlan>('GET', `/v1/placements/${submitted.id}/plan`).catch(() => null);
    if (plan) out(renderPlan(plan));

    out(`\nstep 3/3: roll out ${submitted.id} (flash, load, verify, commit, in waves)`);
    const view = await watchPlacement(api, submitted.id);
    out(renderRollout(view, plan));
    if (emulated > 0) {
      for (const m of (view as { rollout?: { machines?: { hostname: string; state: string }[] } }).rollout?.machines ?? []) {
        out(`  ${m.hostname}: ${m.state}; hops not run in a kernel (test vectors and probe not run)`);
      }
    }
    if (plan && stack.emulation) {
      out(
        '\nper machine and port: probe packets sent at the wire, counted at each hop in packet order, and what `ip -n`/`tc -n` show there (asked from outside the agent)',
      );
      const machines = ((view as { rollout?: { machines?: MachineRecord[] } }).rollout?.machines ?? []).filter(
        (m) => m.state === 'committed',
      );
      for (const line of await renderHops(plan, machines, (id) => stack.emulation!.topology(id))) out(line);
    }
    await access.revoke();
    return view.status === 'completed' ? 0 : 1;
  } finally {
    await stack.stop();
  }
}

demo().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`ioplane demo failed: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
