import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse, stringify } from 'yaml';
import { TARGETS } from '@ioplane/domain';
import { DEFAULT_PROFILES_DIR, loadProfile, loadProfiles } from './profile.loader';
import { ProfileError } from './profile.error';
import { flavoursOf } from './profile.matcher';

const REQUIRED_IDS = [
  'netronome-agilio-cx-bpf-2.1',
  'netronome-agilio-cx-flower-2.1',
  'netronome-agilio-cx-nic-2.1',
  'mellanox-connectx-6dx-22.39',
  'mellanox-connectx-7-28.39',
  'nvidia-bluefield-2-24.35',
  'nvidia-bluefield-3-32.39',
  'pensando-dsc-25-1.28',
  'intel-e810-4.20',
  'intel-x710-9.20',
];

describe('loadProfiles (shipped firmware-profiles/)', () => {
  const profiles = loadProfiles();

  it('loads at least 8 profiles, sorted by id, including every hardware-ids.md profile', () => {
    expect(profiles.length).toBeGreaterThanOrEqual(8);
    const ids = profiles.map((p) => p.id);
    expect(ids).toEqual([...ids].sort());
    expect(ids).toEqual(expect.arrayContaining(REQUIRED_IDS));
  });

  it('names each file after its profile id', () => {
    const stems = fs
      .readdirSync(DEFAULT_PROFILES_DIR)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => f.replace(/\.yaml$/, ''));
    expect(stems.sort()).toEqual(profiles.map((p) => p.id));
  });

  it('carries the nfp offload limits from devices.md', () => {
    const bpf = profiles.find((p) => p.id === 'netronome-agilio-cx-bpf-2.1')!;
    expect(bpf.targets).toEqual(['nic-xdp-offload']);
    expect(bpf.limits.helpers).toEqual([1, 2, 3, 7, 25, 44, 65]);
    expect(bpf.limits.mapTypes).toEqual([1, 2]);
    expect(bpf.limits.refusedOpcodes).toEqual(expect.arrayContaining([0x94, 0x9c, 0x97, 0x9f, 0xd4, 0xd7, 0x06]));
    expect(bpf.limits.atomics).toBe('add');
    expect(bpf.limits.xdpActions).toEqual([0, 1, 2, 3]);
    expect(bpf.limits.programSlotsPerPort).toBe(1);
    expect(bpf.limits.stackBytes).toBeLessThanOrEqual(512);
    expect(bpf.limits.maxInstructions * bpf.limits.instructionExpansion).toBeLessThanOrEqual(2800);
    expect(bpf.flash.tool).toBe('nfp-fw-load');
  });

  it('links the three Netronome flavours into one family', () => {
    const family = flavoursOf(profiles, 'netronome-agilio-cx-flower-2.1').map((p) => p.id);
    expect(family).toEqual(['netronome-agilio-cx-bpf-2.1', 'netronome-agilio-cx-flower-2.1', 'netronome-agilio-cx-nic-2.1']);
    expect(flavoursOf(profiles, 'intel-e810-4.20').map((p) => p.id)).toEqual(['intel-e810-4.20']);
  });

  it('gives DPU profiles Arm cores and BlueField A/B slots', () => {
    const bf2 = profiles.find((p) => p.id === 'nvidia-bluefield-2-24.35')!;
    const bf3 = profiles.find((p) => p.id === 'nvidia-bluefield-3-32.39')!;
    expect([bf2.throughput.armCores, bf3.throughput.armCores]).toEqual([8, 16]);
    expect(bf2.flash.slots.length).toBe(2);
    expect(bf3.flash.capabilities.usableDuringUpdate).toBe(true);
    const pensando = profiles.find((p) => p.id === 'pensando-dsc-25-1.28')!;
    expect(pensando.flash.slots).toEqual(['goldfw', 'mainfwa', 'mainfwb']);
  });
});

describe('loadProfiles (bad profiles)', () => {
  const good = parse(fs.readFileSync(path.join(DEFAULT_PROFILES_DIR, 'netronome-agilio-cx-bpf-2.1.yaml'), 'utf8'));
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ioplane-profiles-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Writes `x.yaml` (a variant of the bpf profile without flavourOf) after `edit`, returns its path. */
  function write(edit: (p: any) => void, stem = 'x', text?: string): string {
    const p = structuredClone(good);
    p.id = stem;
    delete p.flavourOf;
    edit(p);
    const file = path.join(dir, `${stem}.yaml`);
    fs.writeFileSync(file, text ?? stringify(p));
    return file;
  }

  function errorOf(fn: () => unknown): ProfileError {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(ProfileError);
      return e as ProfileError;
    }
    throw new Error('expected a ProfileError');
  }

  it('accepts the unedited variant (control for the cases below)', () => {
    write(() => undefined);
    expect(loadProfiles(dir).map((p) => p.id)).toEqual(['x']);
  });

  it('names a missing required field', () => {
    const file = write((p) => delete p.limits.stackBytes);
    const err = errorOf(() => loadProfiles(dir));
    expect(err.code).toBe('PROFILE_INVALID');
    expect(err.file).toBe(file);
    expect(err.field).toBe('limits.stackBytes');
    expect(err.reason).toBe('is required');
  });

  it('refuses a target outside TARGETS', () => {
    write((p) => (p.targets = ['nic-xdp-offload', 'nic-ebpf-magic']));
    const err = errorOf(() => loadProfiles(dir));
    expect(err.field).toBe('targets.1');
    expect(err.reason).toContain(TARGETS.join(', '));
    expect(err.reason).toContain('nic-ebpf-magic');
  });

  it('refuses a stack above the host 512 B limit, with a file: field: reason message', () => {
    const file = write((p) => (p.limits.stackBytes = 1024));
    const err = errorOf(() => loadProfiles(dir));
    expect(err.field).toBe('limits.stackBytes');
    expect(err.reason).toBe('must be <= 512');
    expect(err.message).toBe(`${file}: limits.stackBytes: must be <= 512`);
  });

  it('refuses an id that differs from the file stem', () => {
    const file = write((p) => (p.id = 'not-x'));
    const err = errorOf(() => loadProfiles(dir));
    expect(err.code).toBe('PROFILE_ID_MISMATCH');
    expect(err.file).toBe(file);
    expect(err.field).toBe('id');
    expect(err.reason).toContain('"x"');
  });

  it.each([
    ['uppercase vendor id', (p: any) => (p.pci.vendorId = '19EE'), 'pci.vendorId'],
    ['3-digit vendor id', (p: any) => (p.pci.vendorId = '19e'), 'pci.vendorId'],
    ['0x-prefixed product id', (p: any) => (p.pci.productIds = ['0x4000']), 'pci.productIds.0'],
    ['unquoted product id (a YAML number)', (p: any) => (p.pci.productIds = [4000]), 'pci.productIds.0'],
  ])('refuses a bad PCI id: %s', (_name, edit, field) => {
    write(edit);
    const err = errorOf(() => loadProfiles(dir));
    expect(err.field).toBe(field);
  });

  it('refuses a non-integer helper id and an unknown field', () => {
    write((p) => (p.limits.helpers = [1, 2.5]));
    expect(errorOf(() => loadProfiles(dir)).field).toBe('limits.helpers.1');
    write((p) => (p.limits.stackByte = 256));
    expect(errorOf(() => loadProfiles(dir))).toMatchObject({ field: 'limits.stackByte', reason: 'unknown field' });
  });

  it('refuses a dpu target on a non-dpu kind', () => {
    write((p) => (p.targets = ['dpu-arm-xdp']));
    expect(errorOf(() => loadProfiles(dir))).toMatchObject({ field: 'targets.0', reason: 'dpu-arm-xdp needs kind dpu, not smartnic' });
  });

  it('refuses duplicate ids across files', () => {
    write(() => undefined);
    fs.copyFileSync(path.join(dir, 'x.yaml'), path.join(dir, 'x.yml'));
    const err = errorOf(() => loadProfiles(dir));
    expect(err.code).toBe('PROFILE_DUPLICATE_ID');
    expect(err.field).toBe('id');
  });

  it('refuses a flavourOf naming no profile', () => {
    write((p) => (p.flavourOf = 'nowhere'));
    expect(errorOf(() => loadProfiles(dir))).toMatchObject({ code: 'PROFILE_FLAVOUR', field: 'flavourOf' });
  });

  it('reports broken YAML against the file', () => {
    const file = write(() => undefined, 'x', 'id: x\nlimits: [unclosed\n');
    const err = errorOf(() => loadProfile(file));
    expect(err.code).toBe('PROFILE_YAML');
    expect(err.file).toBe(file);
  });
});
