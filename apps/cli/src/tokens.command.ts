import { Command } from 'commander';
import { IoplaneApi } from './api.client';

interface TokenView {
  id: string;
  name: string;
  role: string;
  createdAt: string;
  createdBy: string | null;
  revokedAt: string | null;
  token?: string;
}

export function tokensCommand(api: () => IoplaneApi): Command {
  const cmd = new Command('tokens').description('API tokens and their roles (admin)');
  cmd
    .command('create')
    .requiredOption('--name <name>')
    .requiredOption('--role <role>', 'viewer, operator or admin')
    .action(async (o: { name: string; role: string }) => {
      const t = await api().request<TokenView>('POST', '/v1/tokens', { name: o.name, role: o.role });
      process.stdout.write(`${t.id} ${t.name} ${t.role}\n${t.token}\n(the token is shown once; store it now)\n`);
    });
  cmd.command('ls').action(async () => {
    const { items } = await api().request<{ items: TokenView[] }>('GET', '/v1/tokens');
    process.stdout.write('ID            NAME                 ROLE      CREATED                   REVOKED\n');
    for (const t of items)
      process.stdout.write(`${t.id}  ${t.name.padEnd(20)} ${t.role.padEnd(9)} ${t.createdAt}  ${t.revokedAt ?? '-'}\n`);
  });
  cmd
    .command('revoke')
    .argument('<id>')
    .action(async (id: string) => {
      const t = await api().request<TokenView>('DELETE', `/v1/tokens/${encodeURIComponent(id)}`);
      process.stdout.write(`${t.id} revoked at ${t.revokedAt}\n`);
    });
  return cmd;
}
