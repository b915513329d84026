import { Command } from 'commander';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { checkModule, checkObject, ModuleReport } from '@ioplane/catalog';
import { COMMON_TYPE_NAMES, typeFromName } from '@ioplane/compiler';
import { loadModule, MANIFEST_FILE } from '@ioplane/modules';
import { loadProfiles } from '@ioplane/profiles';
import { IoplaneApi } from './api.client';
import { objectError, ObjectErrorDocument, renderModuleReport, reportFailed } from './module-report.render';

interface CheckFlags {
  profile?: string;
  json?: boolean;
  program?: string;
  type?: string;
  kernel: boolean;
  cacheDir: string;
}

type CheckOpts = Parameters<typeof checkObject>[2];

function objectName(file: string): string {
  return (
    basename(file)
      .replace(/\.(bpf\.)?o$/, '')
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'object'
  );
}

function checkOneObject(file: string, f: CheckFlags, opts: CheckOpts): Promise<ModuleReport> {
  return checkObject(readFileSync(file), { name: objectName(file), version: '0.0.0', program: f.program, type: f.type }, opts);
}

function onlyProfile(report: ModuleReport, profile: string | undefined): ModuleReport {
  if (!profile) return report;
  return {
    ...report,
    verdicts: report.verdicts.filter((v) => v.profileId === profile),
    programs: report.programs.map((p) => ({ ...p, verdicts: p.verdicts.filter((v) => v.profileId === profile) })),
  };
}

function options(f: CheckFlags): CheckOpts {
  const all = loadProfiles();
  const profiles = f.profile ? all.filter((p) => p.id === f.profile) : all;
  if (f.profile && profiles.length === 0)
    throw new Error(`--profile: no firmware profile ${f.profile}; known: ${all.map((p) => p.id).join(', ')}`);
  if (f.type !== undefined && !typeFromName(f.type)) {
    throw new Error(`--type: ${f.type} is not a program type libbpf knows; e.g. ${COMMON_TYPE_NAMES.join(', ')}`);
  }
  return {
    cacheDir: f.cacheDir,
    profiles,
    kernel: f.kernel ? 'auto' : 'off',
    onStage: f.json ? undefined : (s: string) => process.stderr.write(`  ${s}...\n`),
  };
}

/** `modules check` runs locally, no API: the compiler, the verifier and the kernel of this machine. */
export async function runModuleCheck(target: string, f: CheckFlags): Promise<{ report: ModuleReport; text: string; failed: boolean }> {
  const opts = options(f);
  if (!existsSync(target)) throw new Error(`${target}: no such file or folder`);
  let report: ModuleReport;
  if (statSync(target).isDirectory()) {
    report = await checkModule(loadModule(target), opts);
  } else {
    report = await checkOneObject(target, f, opts);
  }
  report = onlyProfile(report, f.profile);
  return { report, text: f.json ? JSON.stringify(report, null, 2) : renderModuleReport(report), failed: reportFailed(report) };
}

/** A folder without module.yaml: BPF objects built elsewhere, each checked on its own. */
export function isObjectFolder(target: string): boolean {
  return statSync(target).isDirectory() && !existsSync(join(target, MANIFEST_FILE));
}

/**
 * Checks every file of a folder of other people's objects, in name order, one document per file:
 * the report, or an error document naming the file when it cannot be read as a BPF object. One bad
 * object never stops the others.
 */
export async function runObjectFolderCheck(
  dir: string,
  f: CheckFlags,
  emit: (doc: ModuleReport | ObjectErrorDocument, text: string) => void,
): Promise<{ checked: number; failed: number }> {
  const opts = options(f);
  const files = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort();
  let failed = 0;
  for (const name of files) {
    const file = join(dir, name);
    try {
      const report = onlyProfile(await checkOneObject(file, f, opts), f.profile);
      const bad = reportFailed(report);
      if (bad) failed++;
      emit(report, f.json ? JSON.stringify({ file, ...report }) : `== ${file}\n${renderModuleReport(report)}`);
    } catch (e) {
      failed++;
      const doc = objectError(file, e);
      emit(
        doc,
        f.json
          ? JSON.stringify(doc)
          : `== ${file}\nERROR ${doc.error.code}: ${doc.error.message}${doc.error.field ? ` (field: ${doc.error.field})` : ''}`,
      );
    }
  }
  return { checked: files.length, failed };
}

export function modulesCommand(api: () => IoplaneApi): Command {
  const cmd = new Command('modules').description('IO modules: check locally, list what the API knows');
  cmd
    .command('check <dirOrObject>')
    .description(
      'build (or read) a module, print its facts, verdict per firmware profile, kernel verdict and test vectors; a folder without module.yaml: every BPF object in it',
    )
    .option('--profile <id>', 'only this firmware profile')
    .option('--program <name>', 'the program to deploy (function or section) inside a BPF object; default: its only or first XDP program')
    .option('--type <type>', 'program type for a section libbpf does not know (xdp, xdp/devmap, tc, tcx/ingress, classifier...)')
    .option('--json', 'one JSON document (per object, one per line, for a folder of objects)')
    .option('--no-kernel', 'static checks only, even as root')
    .option('--cache-dir <dir>', 'artifact cache', join(process.env.IOPLANE_DATA_DIR ?? 'var', 'artifacts'))
    .action(async (target: string, f: CheckFlags) => {
      if (existsSync(target) && isObjectFolder(target)) {
        const r = await runObjectFolderCheck(target, f, (_doc, text) => process.stdout.write(`${text}\n`));
        if (r.failed || r.checked === 0) process.exitCode = 1;
        if (r.checked === 0) process.stderr.write(`ioplane: ${target} holds no files to check\n`);
        return;
      }
      const r = await runModuleCheck(target, f);
      process.stdout.write(`${r.text}\n`);
      if (r.failed) process.exitCode = 1;
    });
  cmd
    .command('ls')
    .description('modules the API can place (catalog and uploads)')
    .option('--json')
    .action(async (f: { json?: boolean }) => {
      const { items } = await api().request<{
        items: Array<{ name: string; version: string; origin: string; prefer: string; description: string }>;
      }>('GET', '/v1/modules');
      if (f.json) return void process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
      const w = Math.max(4, ...items.map((i) => i.name.length));
      process.stdout.write(`${'NAME'.padEnd(w)}  VERSION  ORIGIN   PREFER  DESCRIPTION\n`);
      for (const i of items)
        process.stdout.write(
          `${i.name.padEnd(w)}  ${i.version.padEnd(7)}  ${i.origin.padEnd(7)}  ${i.prefer.padEnd(6)}  ${i.description.split('\n')[0].slice(0, 60)}\n`,
        );
    });
  return cmd;
}
