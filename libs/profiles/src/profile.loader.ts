import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml, YAMLError } from 'yaml';
import type { z } from 'zod';
import { FirmwareProfile } from '@ioplane/domain';
import { ProfileError, ProfileIssue } from './profile.error';
import { firmwareProfileSchema } from './profile.schema';

// libs/profiles/src -> repo root; resolved from this file so the cwd does not matter.
const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
export const DEFAULT_PROFILES_DIR = path.join(REPO_ROOT, 'firmware-profiles');

const PROFILE_EXT = /\.ya?ml$/;

function displayPath(file: string): string {
  const abs = path.resolve(file);
  const rel = path.relative(REPO_ROOT, abs);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : abs;
}

function valueAt(root: unknown, p: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const key of p) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Turns zod's issue into `field` + a reason a person can act on without reading zod docs. */
function toIssue(issue: z.core.$ZodIssue, raw: unknown): ProfileIssue {
  const field = issue.path.map(String).join('.');
  const got = valueAt(raw, issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return { field: [...issue.path.map(String), issue.keys[0]].join('.'), reason: 'unknown field' };
    case 'invalid_type':
      if (got === undefined) return { field, reason: 'is required' };
      if (issue.expected === 'int') return { field, reason: `must be an integer, got ${describe(got)}` };
      return { field, reason: `must be ${issue.expected === 'array' || issue.expected === 'object' ? 'an' : 'a'} ${issue.expected}, got ${describe(got)}` };
    case 'invalid_value':
      return { field, reason: `must be one of ${issue.values.map(String).join(', ')}; got ${describe(got)}` };
    case 'too_big': {
      const op = issue.inclusive === false ? '<' : '<=';
      if (issue.origin === 'array') return { field, reason: `must have ${op} ${issue.maximum} items` };
      if (issue.origin === 'string') return { field, reason: `must have ${op} ${issue.maximum} characters` };
      return { field, reason: `must be ${op} ${issue.maximum}` };
    }
    case 'too_small': {
      const op = issue.inclusive === false ? '>' : '>=';
      if (issue.origin === 'array') return { field, reason: `must have ${op} ${issue.minimum} items` };
      if (issue.origin === 'string') return { field, reason: issue.minimum === 1 ? 'must not be empty' : `must have ${op} ${issue.minimum} characters` };
      return { field, reason: `must be ${op} ${issue.minimum}` };
    }
    default:
      return { field, reason: issue.message };
  }
}

function parseProfile(file: string, text: string): FirmwareProfile {
  const shown = displayPath(file);
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    const reason = e instanceof YAMLError ? `invalid YAML: ${e.message.split('\n')[0]}` : `invalid YAML: ${String(e)}`;
    throw new ProfileError('PROFILE_YAML', shown, '', reason);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ProfileError('PROFILE_YAML', shown, '', 'must be a YAML mapping of profile fields');
  }
  const result = firmwareProfileSchema.safeParse(raw);
  if (!result.success) {
    const issues = result.error.issues.map((i) => toIssue(i, raw));
    throw new ProfileError('PROFILE_INVALID', shown, issues[0].field, issues[0].reason, issues);
  }
  const stem = path.basename(file).replace(PROFILE_EXT, '');
  if (result.data.id !== stem) {
    throw new ProfileError('PROFILE_ID_MISMATCH', shown, 'id', `must equal the file name stem "${stem}", got "${result.data.id}"`);
  }
  return result.data;
}

/** Reads and validates one profile file; the id must equal the file stem. */
export function loadProfile(file: string): FirmwareProfile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ProfileError('PROFILE_READ', displayPath(file), '', `cannot read: ${(e as Error).message}`);
  }
  return parseProfile(file, text);
}

/** flavourOf must name a base profile of the same PCI hardware (one level: the base has no flavourOf). */
function checkFlavours(profiles: FirmwareProfile[], fileOf: Map<string, string>): void {
  const byId = new Map(profiles.map((p) => [p.id, p]));
  for (const p of profiles) {
    if (p.flavourOf === undefined) continue;
    const fail = (reason: string) => {
      throw new ProfileError('PROFILE_FLAVOUR', fileOf.get(p.id) ?? p.id, 'flavourOf', reason);
    };
    const base = byId.get(p.flavourOf);
    if (!base) fail(`names unknown profile "${p.flavourOf}"`);
    else if (base.flavourOf !== undefined) fail(`"${base.id}" is itself a flavour of "${base.flavourOf}"; name the base profile`);
    else if (base.pci.vendorId !== p.pci.vendorId || !base.pci.productIds.some((id) => p.pci.productIds.includes(id))) {
      fail(`"${base.id}" is different hardware (PCI ids do not overlap)`);
    }
  }
}

/**
 * Loads every `*.yaml` profile in `dir` (default `<repo>/firmware-profiles`), sorted by id.
 * Throws ProfileError on the first bad file, a duplicate id, or a dangling flavourOf.
 */
export function loadProfiles(dir: string = DEFAULT_PROFILES_DIR): FirmwareProfile[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => PROFILE_EXT.test(n)).sort();
  } catch (e) {
    throw new ProfileError('PROFILE_READ', displayPath(dir), '', `cannot list profiles: ${(e as Error).message}`);
  }
  const fileOf = new Map<string, string>();
  const profiles: FirmwareProfile[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    const profile = loadProfile(file);
    const earlier = fileOf.get(profile.id);
    if (earlier !== undefined) {
      throw new ProfileError('PROFILE_DUPLICATE_ID', displayPath(file), 'id', `duplicate id "${profile.id}", also in ${earlier}`);
    }
    fileOf.set(profile.id, displayPath(file));
    profiles.push(profile);
  }
  checkFlavours(profiles, fileOf);
  return profiles.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
