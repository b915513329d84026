import * as path from 'node:path';
import { parse as parseYaml, YAMLError } from 'yaml';

// libs/validation/src -> repo root; resolved from this file so the cwd does not matter.
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

/** A file as people should see it in errors: repo-relative when inside the repo, else absolute. */
export function displayPath(file: string): string {
  const abs = path.resolve(file);
  const rel = path.relative(REPO_ROOT, abs);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : abs;
}

/** Parses YAML that must be a mapping; the reason says what is wrong with the text when it is not. */
export function parseYamlMapping(text: string, what: string): { ok: true; raw: Record<string, unknown> } | { ok: false; reason: string } {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    return { ok: false, reason: e instanceof YAMLError ? `invalid YAML: ${e.message.split('\n')[0]}` : `invalid YAML: ${String(e)}` };
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, reason: `must be a YAML mapping of ${what}` };
  return { ok: true, raw: raw as Record<string, unknown> };
}
