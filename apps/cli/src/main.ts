import { Command } from 'commander';
import { ApiError, IoplaneApi } from './api.client';
import { fleetCommand } from './fleet.command';
import { modulesCommand } from './modules.command';
import { profilesCommand } from './profiles.command';
import { placementCommands } from './placement.command';
import { controlCommands, statusCommand } from './status.command';
import { tokensCommand } from './tokens.command';
import { rebalanceCommand } from './rebalance.command';

const program = new Command('ioplane')
  .description('ioplane: place eBPF/XDP IO modules on hosts, SmartNICs and DPUs')
  .option('--api <url>', 'ioplane API base URL', process.env.IOPLANE_API_URL ?? 'http://127.0.0.1:8080')
  .option('--token <token>', 'API token (or IOPLANE_TOKEN)', process.env.IOPLANE_TOKEN);

const api = () => {
  const o = program.opts<{ api: string; token?: string }>();
  return new IoplaneApi(o.api, o.token);
};
program.addCommand(fleetCommand(api));
program.addCommand(modulesCommand(api));
program.addCommand(profilesCommand());
program.addCommand(tokensCommand(api));
program.addCommand(rebalanceCommand(api));
for (const c of [...placementCommands(api), statusCommand(api), ...controlCommands(api)]) program.addCommand(c);

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof ApiError) {
    process.stderr.write(`ioplane: ${e.message}${e.field ? ` (field: ${e.field})` : ''}\n`);
  } else {
    process.stderr.write(`ioplane: ${(e as Error).message}\n`);
  }
  process.exit(1);
});
