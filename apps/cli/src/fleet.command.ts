import { Command } from 'commander';
import type { FleetMachine } from '@ioplane/domain';
import { orderHostsWithDpus, renderFleetTable } from '@ioplane/inventory';
import { IoplaneApi } from './api.client';
import { watchJob } from './job.watch';

interface FleetList {
  generation: number;
  syncedAt: string | null;
  count: number;
  items: FleetMachine[];
}

export async function fetchFleet(
  api: IoplaneApi,
  f: { zone?: string; pool?: string; tag?: string; dpus?: boolean } = {},
): Promise<FleetList> {
  const q = new URLSearchParams();
  if (f.zone) q.set('zone', f.zone);
  if (f.pool) q.set('pool', f.pool);
  if (f.tag) q.set('tag', f.tag);
  if (f.dpus) q.set('includeDpus', 'true');
  return api.request<FleetList>('GET', `/v1/fleet/machines${q.size ? `?${q}` : ''}`);
}

export function fleetSummary(list: FleetList): string {
  const devices = list.items.flatMap((m) => m.devices);
  const unprofiled = devices.filter((d) => !d.profileId).length;
  return `${list.count} machines, ${devices.length} devices (${unprofiled} unprofiled), inventory generation ${list.generation}, synced ${list.syncedAt ?? 'never'}`;
}

export async function syncFleet(api: IoplaneApi, opts: { wait: boolean; bar?: boolean }) {
  const { jobId } = await api.request<{ jobId: string }>('POST', '/v1/fleet/sync', {});
  if (!opts.wait) return { jobId, state: 'queued' as string, failedReason: null as string | null };
  const view = await watchJob(api, jobId, { bar: opts.bar });
  return { jobId, state: view.state, failedReason: view.failedReason };
}

export function fleetCommand(api: () => IoplaneApi): Command {
  const fleet = new Command('fleet').description('machines and devices, as read from MAAS');
  fleet
    .command('ls')
    .description('list machines with their devices and matched firmware profiles')
    .option('--zone <zone>')
    .option('--pool <pool>')
    .option('--tag <tag>')
    .option('--dpus', 'also list DPUs as rows, under their host')
    .option('--json', 'print machines as JSON')
    .action(async (o) => {
      const list = await fetchFleet(api(), o);
      if (o.json) return void process.stdout.write(`${JSON.stringify(list.items, null, 2)}\n`);
      process.stdout.write(`${renderFleetTable(orderHostsWithDpus(list.items))}\n${fleetSummary(list)}\n`);
    });
  fleet
    .command('show <systemId>')
    .description('one machine, its interfaces and devices')
    .action(async (id: string) => {
      const m = await api().request<FleetMachine>('GET', `/v1/fleet/machines/${encodeURIComponent(id)}`);
      process.stdout.write(`${JSON.stringify(m, null, 2)}\n`);
    });
  fleet
    .command('sync')
    .description('read the fleet from MAAS now')
    .option('--no-wait', 'queue the sync and return')
    .action(async (o: { wait: boolean }) => {
      const r = await syncFleet(api(), { wait: o.wait });
      process.stdout.write(`fleet-sync ${r.jobId}: ${r.state}${r.failedReason ? ` (${r.failedReason})` : ''}\n`);
      if (r.state === 'failed') process.exitCode = 1;
    });
  fleet
    .command('deploy <machines...>')
    .description('have MAAS deploy machines (hostnames or system_ids) with the ioplane agent, and wait until each agent answers')
    .option('--retries <n>', 'retries of a failed deployment (each releases the machine first)', '2')
    .option('--no-wait', 'queue the deployments and return')
    .action(async (machines: string[], o: { retries: string; wait: boolean }) => {
      const retries = Number(o.retries);
      if (!Number.isInteger(retries) || retries < 0) throw new Error(`--retries: must be a whole number >= 0, got "${o.retries}"`);
      const r = await api().request<{ jobs: Array<{ systemId: string; hostname: string; jobId: string }> }>('POST', '/v1/fleet/deploy', {
        machines,
        retries,
      });
      if (!o.wait) {
        for (const j of r.jobs) process.stdout.write(`${j.hostname} (${j.systemId}): deploy job ${j.jobId} queued\n`);
        return;
      }
      const views = await Promise.all(r.jobs.map((j) => watchJob(api(), j.jobId, { bar: false })));
      r.jobs.forEach((j, i) => {
        const v = views[i];
        process.stdout.write(
          `${j.hostname} (${j.systemId}): ${v.state === 'completed' ? 'deployed, agent answering' : `failed after ${(v as { attemptsMade?: number }).attemptsMade ?? '?'} attempt(s): ${v.failedReason}`}\n`,
        );
        if (v.state !== 'completed') process.exitCode = 1;
      });
    });
  return fleet;
}
