import { Command, InvalidArgumentError } from 'commander';
import { rebalanceRuleSchema, upsertRule, type Proposal, type RebalancePolicy, type RebalanceRule } from '@ioplane/rebalance';
import { IoplaneApi } from './api.client';

const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const num = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('must be a number');
  return n;
};

/** One line per proposal, then its reasons indented: what an operator reads before approving. */
export function renderProposals(items: Proposal[], verbose: boolean): string {
  if (!items.length) return 'no proposals';
  const out = ['ID                          STATUS     MODE     HOST          GAIN(hce)  MOVES'];
  for (const p of items) {
    const moves = p.moves
      .map((m) => `${m.module} ${m.from.target}@${m.from.deviceId.split('/')[1]} -> ${m.to.target}@${m.to.deviceId.split('/')[1]}`)
      .join('; ');
    out.push(
      `${p.id.padEnd(27)} ${p.status.padEnd(10)} ${p.mode.padEnd(8)} ${p.hostname.padEnd(13)} ${p.reasons.gain.toFixed(3).padStart(9)}  ${moves}${p.placementId ? `  [${p.placementId}]` : ''}`,
    );
    if (verbose) {
      out.push(`    why now: ${p.reasons.whyNow}`);
      for (const s of p.reasons.summary) out.push(`    - ${s}`);
      if (p.note) out.push(`    note: ${p.note}`);
    }
  }
  return out.join('\n');
}

export function renderPolicy(p: RebalancePolicy): string {
  if (!p.rules.length) return 'no rules: rebalancing is off everywhere';
  return p.rules
    .map((r, i) => {
      const sel =
        Object.entries(r.selector)
          .map(([k, v]) => `${k}=${(v as string[]).join(',')}`)
          .join(' ') || '(every machine)';
      return `${i + 1}. ${sel}: ${r.mode}, margin ${(r.margin * 100).toFixed(0)}% and ${r.minGainHce} hce, ${r.windows} windows, cool-down ${r.cooldownWindows} windows`;
    })
    .join('\n');
}

export function rebalanceCommand(api: () => IoplaneApi): Command {
  const cmd = new Command('rebalance').description('automated rebalancing: proposals and the policy per selector');
  cmd
    .command('ls')
    .description('list proposals, newest first')
    .option('--status <status>', 'pending, submitted, rejected, dropped or failed')
    .option('-v, --verbose', "print each proposal's reasons", false)
    .action(async (o: { status?: string; verbose: boolean }) => {
      const { items } = await api().request<{ items: Proposal[] }>(
        'GET',
        `/v1/rebalance/proposals${o.status ? `?status=${encodeURIComponent(o.status)}` : ''}`,
      );
      process.stdout.write(`${renderProposals(items, o.verbose)}\n`);
    });
  cmd
    .command('approve')
    .argument('<id>')
    .option('--note <text>')
    .description('submit the proposal as a placement with reason rebalance')
    .action(async (id: string, o: { note?: string }) => {
      const r = await api().request<{ id: string; status: string; placementId: string }>(
        'POST',
        `/v1/rebalance/proposals/${encodeURIComponent(id)}/approve`,
        o.note ? { note: o.note } : {},
      );
      process.stdout.write(`${r.id} ${r.status}: placement ${r.placementId}\n`);
    });
  cmd
    .command('reject')
    .argument('<id>')
    .option('--note <text>')
    .action(async (id: string, o: { note?: string }) => {
      const r = await api().request<{ id: string; status: string }>(
        'POST',
        `/v1/rebalance/proposals/${encodeURIComponent(id)}/reject`,
        o.note ? { note: o.note } : {},
      );
      process.stdout.write(`${r.id} ${r.status}\n`);
    });
  cmd
    .command('policy')
    .description('show the policy; with --mode, set the rule of the selector given (replacing one with the same selector)')
    .option('--mode <mode>', 'off, propose or auto')
    .option('--zones <list>', 'comma-separated', list)
    .option('--pools <list>', 'comma-separated', list)
    .option('--tags <list>', 'comma-separated', list)
    .option('--hostnames <list>', 'comma-separated', list)
    .option('--margin <fraction>', 'gain as a share of the current cost, e.g. 0.2', num)
    .option('--min-gain <hce>', 'gain in host-core equivalents', num)
    .option('--windows <n>', 'consecutive windows (hysteresis)', num)
    .option('--cooldown <windows>', 'windows a moved module stays put', num)
    .action(
      async (o: {
        mode?: string;
        zones?: string[];
        pools?: string[];
        tags?: string[];
        hostnames?: string[];
        margin?: number;
        minGain?: number;
        windows?: number;
        cooldown?: number;
      }) => {
        const current = await api().request<RebalancePolicy>('GET', '/v1/rebalance/policy');
        if (!o.mode) {
          process.stdout.write(`${renderPolicy(current)}\n`);
          return;
        }
        const selector = Object.fromEntries(
          Object.entries({ zones: o.zones, pools: o.pools, tags: o.tags, hostnames: o.hostnames }).filter(([, v]) => v?.length),
        );
        const parsed = rebalanceRuleSchema.safeParse({
          selector,
          mode: o.mode,
          margin: o.margin,
          minGainHce: o.minGain,
          windows: o.windows,
          cooldownWindows: o.cooldown,
        });
        if (!parsed.success) {
          const i = parsed.error.issues[0];
          const flag: Record<string, string> = {
            mode: '--mode',
            margin: '--margin',
            minGainHce: '--min-gain',
            windows: '--windows',
            cooldownWindows: '--cooldown',
          };
          throw new Error(`${flag[String(i.path[0])] ?? i.path.join('.')}: ${i.message}`);
        }
        const next = await api().request<RebalancePolicy>('PUT', '/v1/rebalance/policy', upsertRule(current, parsed.data as RebalanceRule));
        process.stdout.write(`${renderPolicy(next)}\n`);
      },
    );
  return cmd;
}
