import * as fs from 'node:fs';
import * as path from 'node:path';
import { displayPath, parseYamlMapping, REPO_ROOT } from '@ioplane/validation';
import { ModuleError, ModuleIssue, toModuleIssue } from './manifest.error';
import { asManifest, ModuleManifest, moduleManifestSchema } from './manifest.schema';

export const DEFAULT_MODULES_DIR = path.join(REPO_ROOT, 'modules');
export const MANIFEST_FILE = 'module.yaml';

const MAP_DECL = /\}\s*([A-Za-z_][A-Za-z0-9_]*)\s+SEC\(\s*"\.maps"\s*\)/g;

function parseManifest(file: string, text: string): ModuleManifest {
  const shown = displayPath(file);
  const doc = parseYamlMapping(text, 'manifest fields');
  if (!doc.ok) throw new ModuleError('MODULE_YAML', shown, '', doc.reason);
  const raw = doc.raw;
  const result = moduleManifestSchema.safeParse(raw);
  if (!result.success) {
    const issues: ModuleIssue[] = result.error.issues.map((i) => toModuleIssue(i, raw));
    throw new ModuleError('MODULE_INVALID', shown, issues[0].field, issues[0].reason, issues);
  }
  return asManifest(result.data);
}

/**
 * Cross-checks against the folder: the name is the folder's, sources exist, and every map a seed
 * or persistentMaps names is declared (as a BTF map in `.maps`) in one of the sources, so a typo
 * fails here instead of at `bpftool map update` time on a device.
 */
function checkFolder(m: ModuleManifest, dir: string, shown: string): void {
  const folder = path.basename(dir);
  if (m.name !== folder)
    throw new ModuleError('MODULE_NAME_MISMATCH', shown, 'name', `must equal the folder name "${folder}", got "${m.name}"`);
  const declared = new Set<string>();
  m.sources.forEach((src, i) => {
    let text: string;
    try {
      text = fs.readFileSync(path.join(dir, src), 'utf8');
    } catch {
      throw new ModuleError('MODULE_SOURCE', shown, `sources.${i}`, `file "${src}" does not exist in ${displayPath(dir)}`);
    }
    for (const match of text.matchAll(MAP_DECL)) declared.add(match[1]);
  });
  const known = () => (declared.size ? [...declared].sort().join(', ') : 'none');
  m.hints.persistentMaps.forEach((name, i) => {
    if (!declared.has(name))
      throw new ModuleError(
        'MODULE_MAP',
        shown,
        `hints.persistentMaps.${i}`,
        `map "${name}" is not declared in the sources (declared: ${known()})`,
      );
  });
  m.seed?.forEach((s, i) => {
    if (!declared.has(s.map))
      throw new ModuleError('MODULE_MAP', shown, `seed.${i}.map`, `map "${s.map}" is not declared in the sources (declared: ${known()})`);
  });
}

/** Reads and validates `<dir>/module.yaml`; `dir` of the result is the absolute folder. */
export function loadModule(dir: string): ModuleManifest {
  const abs = path.resolve(dir);
  const file = path.join(abs, MANIFEST_FILE);
  const shown = displayPath(file);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ModuleError('MODULE_READ', shown, '', `cannot read: ${(e as Error).message}`);
  }
  const manifest = parseManifest(file, text);
  checkFolder(manifest, abs, shown);
  return { ...manifest, dir: abs };
}

/**
 * Loads every module folder (a subfolder holding module.yaml) under `root`, sorted by name.
 * Folders without a manifest are skipped; the first bad manifest throws ModuleError.
 */
export function loadCatalog(root: string = DEFAULT_MODULES_DIR): ModuleManifest[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(root, { withFileTypes: true });
  } catch (e) {
    throw new ModuleError('MODULE_READ', displayPath(root), '', `cannot list modules: ${(e as Error).message}`);
  }
  const seen = new Map<string, string>();
  const modules: ModuleManifest[] = [];
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const dir = path.join(root, entry.name);
    if (!fs.existsSync(path.join(dir, MANIFEST_FILE))) continue;
    const m = loadModule(dir);
    const earlier = seen.get(m.name);
    if (earlier)
      throw new ModuleError(
        'MODULE_DUPLICATE_NAME',
        displayPath(path.join(dir, MANIFEST_FILE)),
        'name',
        `duplicate name "${m.name}", also in ${earlier}`,
      );
    seen.set(m.name, displayPath(path.join(dir, MANIFEST_FILE)));
    modules.push(m);
  }
  return modules.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
