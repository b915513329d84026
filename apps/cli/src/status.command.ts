import { Command } from 'commander';
import { MultiBar, Presets } from 'cli-progress';
import type { MachineRecord } from '@ioplane/rollout';
import type { StoredPlan } from '@ioplane/planning';
import { IoplaneApi } from './api.client';

export interface PlacementView {
  id: string;
  status: string;
  error: string | null;
  control: string | null;
  rollout: {
    waves: Array<{ index: number; machines: number }>;
    progress: number;
    counts: Record<string, number>;
    machines: MachineRecord[];
  } | null;
}

const FINAL = ['completed', 'failed', 'infeasible', 'cancelled', 'rolled-back'];

/** Follows a placement to its end: one bar for the whole rollout, one per wave. */
export async function watchPlacement(
  api: IoplaneApi,
  id: string,
  opts: { bar?: boolean; intervalMs?: number } = {},
): Promise<PlacementView> {
  const get = () => api.request<PlacementView>('GET', `/v1/placements/${encodeURIComponent(id)}`);
  const bars =
    opts.bar === false
      ? null
      : new MultiBar(
          {
            format: ' {label} [{bar}] {value}/{total} {detail}',
            noTTYOutput: true,
            notTTYSchedule: 1000,
            stream: process.stderr,
            hideCursor: true,
          },
          Presets.shades_classic,
        );
  const overall = bars?.create(1, 0, { label: 'placement'.padEnd(9), detail: 'planning' });
  const waveBars = new Map<number, ReturnType<MultiBar['create']>>();
  let view = await get();
  try {
    for (;;) {
      const r = view.rollout;
      if (r && bars && overall) {
        const done = r.machines.filter((m) => ['committed', 'rolled-back', 'failed', 'cancelled'].includes(m.state)).length;
        overall.setTotal(r.machines.length);
        overall.update(done, {
          detail: `${view.status} ${Object.entries(r.counts)
            .map(([k, v]) => `${k}:${v}`)
            .join(' ')}`,
        });
        for (const w of r.waves) {
          const ms = r.machines.filter((m) => m.wave === w.index);
          const wd = ms.filter((m) => ['committed', 'rolled-back', 'failed', 'cancelled'].includes(m.state)).length;
          const active = ms
            .filter((m) => ['flashing', 'loading', 'verifying', 'rolling-back'].includes(m.state))
            .map((m) => `${m.hostname}:${m.state}`);
          if (!waveBars.has(w.index)) waveBars.set(w.index, bars.create(w.machines, 0, { label: `wave ${w.index}`.padEnd(9), detail: '' }));
          waveBars.get(w.index)!.update(wd, { detail: active.slice(0, 3).join(' ') });
        }
      } else overall?.update(0, { detail: view.status });
      if (FINAL.includes(view.status)) break;
      await new Promise((res) => setTimeout(res, opts.intervalMs ?? 250));
      view = await get();
    }
  } finally {
    bars?.stop();
  }
  return view;
}

/** One line per machine: wave, final state, what it runs where, and why when it did not commit. */
export function renderRollout(view: PlacementView, plan: StoredPlan | null): string {
  const out = [`placement ${view.id}: ${view.status}${view.error ? ` (${view.error})` : ''}`];
  const machines = view.rollout?.machines ?? [];
  const w = Math.max(8, ...machines.map((m) => m.hostname.length));
  out.push(`${'MACHINE'.padEnd(w)}  WAVE  STATE        PLACEMENT`);
  for (const m of machines) {
    const mp = plan?.machines.find((x) => x.systemId === m.systemId);
    // Per port, each module at its hook and the interface it attaches to.
    const where = mp
      ? (mp.paths ?? [])
          .map((path) => `${path.ingress.interface}: ${path.hops.map((h) => `${h.module}->${h.hook}@${h.interface}`).join(' ')}`)
          .join(' | ')
      : '';
    const flash = mp && Object.keys(mp.flavourSwitches).length ? ` flashed ${Object.values(mp.flavourSwitches).join(',')}` : '';
    out.push(
      `${m.hostname.padEnd(w)}  ${String(m.wave).padEnd(4)}  ${m.state.padEnd(11)}  ${where}${flash}${m.state !== 'committed' && m.reason ? `  reason: ${m.reason}` : ''}`,
    );
  }
  for (const m of plan?.machines.filter((x) => !x.feasible) ?? []) {
    out.push(`${m.hostname.padEnd(w)}  -     infeasible   ${m.infeasible.map((i) => `${i.module}: ${i.constraint}`).join('; ')}`);
  }
  for (const s of plan?.skipped ?? []) out.push(`${s.hostname.padEnd(w)}  -     skipped      ${s.reason}`);
  const counts = view.rollout?.counts ?? {};
  out.push(
    `${machines.length} machines: ${
      Object.entries(counts)
        .map(([k, v]) => `${v} ${k}`)
        .join(', ') || 'none rolled out'
    }`,
  );
  return out.join('\n');
}

export function statusCommand(api: () => IoplaneApi): Command {
  return new Command('status')
    .description('a placement and its rollout, per machine')
    .argument('<placementId>')
    .option('--watch', 'follow the rollout with progress bars until it ends')
    .option('--json')
    .action(async (id: string, o: { watch?: boolean; json?: boolean }) => {
      const view = o.watch
        ? await watchPlacement(api(), id)
        : await api().request<PlacementView>('GET', `/v1/placements/${encodeURIComponent(id)}`);
      if (o.json) return void process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
      const plan = await api()
        .request<StoredPlan>('GET', `/v1/placements/${encodeURIComponent(id)}/plan`)
        .catch(() => null);
      process.stdout.write(`${renderRollout(view, plan)}\n`);
      if (['failed', 'infeasible'].includes(view.status)) process.exitCode = 1;
    });
}

export function controlCommands(api: () => IoplaneApi): Command[] {
  return (['cancel', 'pause', 'resume', 'rollback'] as const).map((verb) =>
    new Command(verb)
      .description(`${verb} a placement's rollout`)
      .argument('<placementId>')
      .action(async (id: string) => {
        const r = await api().request<{ id: string; control: string }>('POST', `/v1/placements/${encodeURIComponent(id)}/${verb}`);
        process.stdout.write(`${r.id}: ${verb} requested\n`);
      }),
  );
}
