import type { PlannedMachine } from '../machine.desired';
import { ArtifactRef, artifactDigest } from '../machine.slice';

/** A module object's stand-in bytes: distinct per name, so each has its own digest. */
export const objectBytes = (name: string): Buffer => Buffer.from(`\x7fELF ${name}`);

/** A plan's reference to a module build, by the digest of its bytes. */
export const artifactRef = (name: string): ArtifactRef => ({
  name,
  version: '1',
  digest: artifactDigest(objectBytes(name)),
  program: 'xdp_main',
  persistentMaps: [],
  pps: 1000,
  vectors: [],
});

/** A feasible planned machine running `modules` in generic XDP on its one NIC. */
export const plannedMachine = (systemId: string, modules: string[], profileId: string | null = null): PlannedMachine => ({
  systemId,
  hostname: `h-${systemId}`,
  feasible: true,
  flavourSwitches: {},
  placements: Object.fromEntries(
    modules.map((m) => [m, { module: m, deviceId: `${systemId}/nic`, target: 'host-xdp-generic' as const, profileId }]),
  ),
});
