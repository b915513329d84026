import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { breakdownWords, type MachinePlan } from '@ioplane/placement';
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

const mpps = (pps: number) => `${(pps / 1e6).toFixed(2)} Mpps`;

/** Host CPU cores and Arm cores the machine's hops spend, and the penalties apart from them. */
function machineTotals(m: MachinePlan): string {
  const hops = m.paths.flatMap((p) => p.hops);
  const sum = (f: (h: (typeof hops)[number]) => number) => hops.reduce((n, h) => n + f(h), 0);
  const host = sum((h) => h.costBreakdown.hostCores);
  const arm = sum((h) => h.costBreakdown.armCores);
  const penalty = sum((h) => h.costBreakdown.preferPenalty);
  return `host CPU cores ${host.toFixed(3)}${arm ? `, Arm cores ${arm.toFixed(3)}` : ''}${penalty ? `, off-preference penalty ${penalty.toFixed(2)}` : ''}, objective ${m.cost.toFixed(3)}`;
}

/**
 * One block per machine: per ingress port, the chain's hops in packet order (hook, target, the
 * interface it attaches to, the device, the rate it sees, the host CPU cores it costs);
 * infeasible machines with the blocking constraint.
 */
export function renderPlan(plan: StoredPlan): string {
  const out: string[] = [];
  out.push(
    `plan ${plan.placementId}: ${plan.machines.length} machines, ${plan.complete ? 'complete' : 'INCOMPLETE'}; ${plan.stats.classes} equivalence classes, ${plan.stats.solves} solves, ${(plan.stats.seconds * 1000).toFixed(1)} ms`,
  );
  out.push(
    `modules (ingress order): ${plan.modules.map((m) => `${m.name}@${m.version} ${m.nsPerPacket.toFixed(1)} ns/pkt${m.costEstimated ? ' (est.)' : ''}${m.passRatio !== undefined && m.passRatio < 1 ? ` passes ${Math.round(m.passRatio * 100)}%` : ''}`).join(' -> ')}`,
  );
  for (const m of plan.modules) if (m.cost) out.push(`  ${m.name}: ${costText(m.cost)}`);
  for (const m of plan.machines) {
    out.push(
      `${m.hostname} (${m.systemId})  ${m.feasible ? machineTotals(m) : 'INFEASIBLE'}  solver ${m.solver}${
        Object.keys(m.flavourSwitches).length
          ? `  flash: ${Object.entries(m.flavourSwitches)
              .map(([d, p]) => `${d.split('/')[1]} -> ${p}`)
              .join(', ')}`
          : ''
      }`,
    );
    if (!m.feasible) for (const i of m.infeasible) out.push(`  ! ${i.module}: ${i.constraint}: ${i.message}`);
    for (const path of m.paths ?? []) {
      out.push(`  port ${path.ingress.interface} (${path.ingress.deviceId.split('/')[1] ?? '?'}), ${mpps(path.ingress.pps)} in`);
      for (const h of path.hops) {
        out.push(
          `    ${h.position} ${h.module.padEnd(16)} ${h.hook.padEnd(15)} ${h.target.padEnd(17)} on ${h.interface.padEnd(12)} ${h.deviceId.split('/')[1].padEnd(12)} ${(h.profileId ?? '').padEnd(31)} ${mpps(h.pps).padStart(11)}  ${h.costBreakdown.hostCores.toFixed(3)} host cores`,
        );
      }
    }
  }
  for (const s of plan.skipped) out.push(`skipped ${s.hostname} (${s.systemId}): ${s.reason}`);
  for (const s of plan.scoped)
    out.push(
      `fleet-scoped ${s.module}: ${s.feasible ? `${s.replicas.length}/${s.requested} replicas` : `INFEASIBLE (${s.constraint}): ${s.message}`}`,
    );
  return out.join('\n');
}

/** A module's host ns per packet with its parts: what was measured and the harness's own cost taken off it. */
export function costText(c: NonNullable<StoredPlan['modules'][number]['cost']>): string {
  const parts = c.harnessNs === null ? '' : ` (measured ${c.measuredNs.toFixed(1)} - harness ${c.harnessNs.toFixed(1)})`;
  return `${c.nsPerPacket.toFixed(1)} ns/pkt${parts} from ${c.source}`;
}

/** Per port and hop: why this hook, and for every position refused, the rule that refused it. */
export function explainMachine(plan: StoredPlan, machine: string): string {
  const m: MachinePlan | undefined = plan.machines.find((x) => x.systemId === machine || x.hostname === machine);
  if (!m) {
    const skipped = plan.skipped.find((s) => s.systemId === machine || s.hostname === machine);
    if (skipped) return `${skipped.hostname} (${skipped.systemId}) was not planned: ${skipped.reason}`;
    throw new Error(`machine ${machine} is not in plan ${plan.placementId}`);
  }
  const out = [
    `${m.hostname} (${m.systemId}) in ${plan.placementId}: ${m.feasible ? `${machineTotals(m)}, lower bound ${m.lowerBound.toFixed(3)}, solver ${m.solver}` : 'INFEASIBLE'}`,
  ];
  for (const i of m.infeasible) out.push(`  ${i.module} cannot be placed: ${i.constraint}: ${i.message}`);
  // Host cores are priced from these figures; say where each comes from.
  for (const mod of plan.modules) if (mod.cost) out.push(`  host cost of ${mod.name}: ${costText(mod.cost)}`);
  for (const path of m.paths ?? []) {
    out.push(`port ${path.ingress.interface}: ${mpps(path.ingress.pps)} enter`);
    for (const h of path.hops) {
      out.push(
        `  ${h.module} -> ${h.hook} (${h.target}) on ${h.interface} of ${h.deviceId}${h.profileId ? ` (${h.profileId})` : ''}, ${mpps(h.pps)}`,
      );
      out.push(`    costs ${breakdownWords(h.costBreakdown)}`);
      for (const r of h.reasons) out.push(`    because ${r}`);
      for (const r of h.rejected)
        out.push(`    not ${r.hook ?? r.target} (${r.target}) on ${r.interface ?? r.deviceId}: ${r.rule ?? r.code}: ${r.message}`);
    }
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
      const res = await api().request<{ id: string; status: string; created: boolean }>(
        'POST',
        '/v1/placements',
        readRequest(o.file),
        o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : undefined,
      );
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
