import * as fs from 'node:fs';
import * as path from 'node:path';
import { displayPath, parseYamlMapping, REPO_ROOT, schemaIssue } from '@ioplane/validation';
import { FirmwareProfile } from '@ioplane/domain';
import { ProfileError, ProfileIssue } from './profile.error';
import { firmwareProfileSchema } from './profile.schema';

export const DEFAULT_PROFILES_DIR = path.join(REPO_ROOT, 'firmware-profiles');

const PROFILE_EXT = /\.ya?ml$/;

function parseProfile(file: string, text: string): FirmwareProfile {
  const shown = displayPath(file);
  const doc = parseYamlMapping(text, 'profile fields');
  if (!doc.ok) throw new ProfileError('PROFILE_YAML', shown, '', doc.reason);
  const raw = doc.raw;
  const result = firmwareProfileSchema.safeParse(raw);
  if (!result.success) {
    const issues = result.error.issues.map((i): ProfileIssue => schemaIssue(i, raw));
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
    names = fs
      .readdirSync(dir)
      .filter((n) => PROFILE_EXT.test(n))
      .sort();
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
