import { Command } from 'commander';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { checkModule, checkObject, ModuleReport } from '@ioplane/catalog';
import { loadModule } from '@ioplane/modules';
import { loadProfiles } from '@ioplane/profiles';
import { IoplaneApi } from './api.client';
import { renderModuleReport, reportFailed } from './module-report.render';

interface CheckFlags {
  profile?: string;
  json?: boolean;
  program?: string;
  kernel: boolean;
  cacheDir: string;
}

/** `modules check` runs locally, no API: the compiler, the verifier and the kernel of this machine. */
export async function runModuleCheck(target: string, f: CheckFlags): Promise<{ report: ModuleReport; text: string; failed: boolean }> {
  const all = loadProfiles();
  const profiles = f.profile ? all.filter((p) => p.id === f.profile) : all;
  if (f.profile && profiles.length === 0) throw new Error(`--profile: no firmware profile ${f.profile}; known: ${all.map((p) => p.id).join(', ')}`);
  if (!existsSync(target)) throw new Error(`${target}: no such file or folder`);
  const opts = { cacheDir: f.cacheDir, profiles, kernel: f.kernel ? ('auto' as const) : ('off' as const), onStage: f.json ? undefined : (s: string) => process.stderr.write(`  ${s}...\n`) };
  let report: ModuleReport;
  if (statSync(target).isDirectory()) {
    report = await checkModule(loadModule(target), opts);
  } else {
    const name = basename(target).replace(/\.(bpf\.)?o$/, '').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'object';
    report = await checkObject(readFileSync(target), { name, version: '0.0.0', program: f.program }, opts);
  }
  if (f.profile) report = { ...report, verdicts: report.verdicts.filter((v) => v.profileId === f.profile) };
  return { report, text: f.json ? JSON.stringify(report, null, 2) : renderModuleReport(report), failed: reportFailed(report) };
}

export function modulesCommand(api: () => IoplaneApi): Command {
  const cmd = new Command('modules').description('IO modules: check locally, list what the API knows');
  cmd
    .command('check <dirOrObject>')
    .description('build (or read) a module, print its facts, verdict per firmware profile, kernel verdict and test vectors')
    .option('--profile <id>', 'only this firmware profile')
    .option('--program <name>', 'program (function or section) inside a BPF object')
    .option('--json', 'one JSON document')
    .option('--no-kernel', 'static checks only, even as root')
    .option('--cache-dir <dir>', 'artifact cache', join(process.env.IOPLANE_DATA_DIR ?? 'var', 'artifacts'))
    .action(async (target: string, f: CheckFlags) => {
      const r = await runModuleCheck(target, f);
      process.stdout.write(`${r.text}\n`);
      if (r.failed) process.exitCode = 1;
    });
  cmd
    .command('ls')
    .description('modules the API can place (catalog and uploads)')
    .option('--json')
    .action(async (f: { json?: boolean }) => {
      const { items } = await api().request<{ items: Array<{ name: string; version: string; origin: string; prefer: string; description: string }> }>('GET', '/v1/modules');
      if (f.json) return void process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
      const w = Math.max(4, ...items.map((i) => i.name.length));
      process.stdout.write(`${'NAME'.padEnd(w)}  VERSION  ORIGIN   PREFER  DESCRIPTION\n`);
      for (const i of items) process.stdout.write(`${i.name.padEnd(w)}  ${i.version.padEnd(7)}  ${i.origin.padEnd(7)}  ${i.prefer.padEnd(6)}  ${i.description.split('\n')[0].slice(0, 60)}\n`);
    });
  return cmd;
}
