import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { MachinePlan } from '@ioplane/placement';
import type { StoredPlan } from '@ioplane/planning';
import { IoplaneApi } from './api.client';

function readRequest(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`-f ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  const doc = parse(text);
  if (!doc || typeof doc !== 'object') throw new Error(`-f ${file}: expected a YAML mapping with selector and modules`);
  return doc as Record<string, unknown>;
}

/** One block per machine: each module's device, target and cost, infeasible modules with the blocking constraint. */
export function renderPlan(plan: StoredPlan): string {
  const out: string[] = [];
  out.push(`plan ${plan.placementId}: ${plan.machines.length} machines, ${plan.complete ? 'complete' : 'INCOMPLETE'}; ${plan.stats.classes} equivalence classes, ${plan.stats.solves} solves, ${(plan.stats.seconds * 1000).toFixed(1)} ms`);
  out.push(`modules (ingress order): ${plan.modules.map((m) => `${m.name}@${m.version} ${m.nsPerPacket.toFixed(1)} ns/pkt${m.costEstimated ? ' (est.)' : ''}`).join(' -> ')}`);
  for (const m of plan.machines) {
    out.push(`${m.hostname} (${m.systemId})  cost ${m.feasible ? m.cost.toFixed(3) : '-'} hce  solver ${m.solver}${Object.keys(m.flavourSwitches).length ? `  flash: ${Object.entries(m.flavourSwitches).map(([d, p]) => `${d.split('/')[1]} -> ${p}`).join(', ')}` : ''}`);
    if (!m.feasible) for (const i of m.infeasible) out.push(`  ! ${i.module}: ${i.constraint}: ${i.message}`);
    for (const p of Object.values(m.placements).sort((a, b) => plan.modules.findIndex((x) => x.name === a.module) - plan.modules.findIndex((x) => x.name === b.module))) {
      out.push(`  ${p.module.padEnd(16)} ${p.target.padEnd(17)} ${p.deviceId.split('/')[1].padEnd(12)} ${(p.profileId ?? '').padEnd(31)} ${p.costBreakdown.total.toFixed(3)} hce`);
    }
  }
  for (const s of plan.skipped) out.push(`skipped ${s.hostname} (${s.systemId}): ${s.reason}`);
  for (const s of plan.scoped) out.push(`fleet-scoped ${s.module}: ${s.feasible ? `${s.replicas.length}/${s.requested} replicas` : `INFEASIBLE (${s.constraint}): ${s.message}`}`);
  return out.join('\n');
}

export function explainMachine(plan: StoredPlan, machine: string): string {
  const m: MachinePlan | undefined = plan.machines.find((x) => x.systemId === machine || x.hostname === machine);
  if (!m) {
    const skipped = plan.skipped.find((s) => s.systemId === machine || s.hostname === machine);
    if (skipped) return `${skipped.hostname} (${skipped.systemId}) was not planned: ${skipped.reason}`;
    throw new Error(`machine ${machine} is not in plan ${plan.placementId}`);
  }
  const out = [`${m.hostname} (${m.systemId}) in ${plan.placementId}: ${m.feasible ? `cost ${m.cost.toFixed(3)} hce, lower bound ${m.lowerBound.toFixed(3)}, solver ${m.solver}` : 'INFEASIBLE'}`];
  for (const i of m.infeasible) out.push(`  ${i.module} cannot be placed: ${i.constraint}: ${i.message}`);
  for (const name of plan.modules.map((x) => x.name)) {
    const p = m.placements[name];
    if (!p) continue;
    out.push(`${name} -> ${p.target} on ${p.deviceId}${p.profileId ? ` (${p.profileId})` : ''}`);
    for (const r of p.reasons) out.push(`  because ${r}`);
    for (const r of p.rejected) out.push(`  not ${r.target} on ${r.deviceId}: ${r.code}: ${r.message}`);
  }
  return out.join('\n');
}

export function placementCommands(api: () => IoplaneApi): Command[] {
  const plan = new Command('plan')
    .description('plan a placement file; with --dry-run nothing is stored')
    .requiredOption('-f, --file <placement.yaml>')
    .option('--dry-run', 'return the plan without storing or rolling out', false)
    .option('--json')
    .action(async (o: { file: string; dryRun: boolean; json?: boolean }) => {
      if (!o.dryRun) throw new Error('plan needs --dry-run; use `ioplane submit -f` to place for real');
      const res = await api().request<{ plan: StoredPlan }>('POST', '/v1/placements', { ...readRequest(o.file), dryRun: true });
      process.stdout.write(`${o.json ? JSON.stringify(res.plan, null, 2) : renderPlan(res.plan)}\n`);
      if (!res.plan.complete) process.exitCode = 2;
    });
  const submit = new Command('submit')
    .description('submit a placement file: plan, then roll out')
    .requiredOption('-f, --file <placement.yaml>')
    .option('--idempotency-key <key>')
    .action(async (o: { file: string; idempotencyKey?: string }) => {
      const res = await api().request<{ id: string; status: string; created: boolean }>('POST', '/v1/placements', readRequest(o.file), o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : undefined);
      process.stdout.write(`${res.id} ${res.created ? 'submitted' : 'already submitted'} (${res.status})\n`);
    });
  const explain = new Command('explain')
    .description('why a machine got its placement: the chosen target and every rejected one')
    .argument('<placementId>')
    .argument('<machine>', 'system id or hostname')
    .action(async (id: string, machine: string) => {
      const p = await api().request<StoredPlan>('GET', `/v1/placements/${encodeURIComponent(id)}/plan`);
      process.stdout.write(`${explainMachine(p, machine)}\n`);
    });
  return [plan, submit, explain];
}
