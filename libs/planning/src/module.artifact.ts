import { promises as fsp } from 'node:fs';
import type { ModuleReport } from '@ioplane/catalog';
import { ModuleManifest, packetHex } from '@ioplane/modules';
import { artifactDigest, ArtifactRef } from '@ioplane/rollout';
import type { PlacementRequest } from './placement-request.schema';

/**
 * What a rollout ships of a module built from `manifest` into the object `bytes`: the object by the
 * sha256 of its bytes (agents check signatures over the bytes they receive), the program, the maps
 * kept across loads, its flow rules, the rate and the test vectors.
 */
export function shippedArtifact(manifest: ModuleManifest, bytes: Buffer, o: { program: string; pps: number }): ArtifactRef {
  return {
    name: manifest.name,
    version: manifest.version,
    digest: artifactDigest(bytes),
    program: o.program,
    persistentMaps: manifest.hints.persistentMaps,
    ...(manifest.matchAction ? { matchAction: manifest.matchAction } : {}),
    pps: o.pps,
    // Vectors that need the manifest's seeded maps cannot run on the deployed chain, whose maps
    // hold the operator's state; those modules are checked by tag and counters.
    vectors: manifest.seed?.length
      ? []
      : manifest.vectors.map((v) => ({
          name: v.name,
          packetHex: packetHex(v),
          expectVerdict: v.expect.verdict,
          expectOutputHex: v.expect.outputHex,
          repeat: v.repeat,
        })),
  };
}

/**
 * A planned module's shipment (see shippedArtifact), fixed at plan time from the build and analysis
 * the plan was made with, at the rate the request asked for. Returns the bytes beside the
 * reference, for whoever stores them under that address.
 */
export async function artifactRefOf(
  report: ModuleReport,
  manifest: ModuleManifest,
  asked: PlacementRequest['modules'][number],
): Promise<{ ref: ArtifactRef; bytes: Buffer }> {
  const bytes = await fsp.readFile(report.artifact.objectPath);
  return {
    bytes,
    ref: shippedArtifact(manifest, bytes, { program: report.program.name, pps: asked.traffic?.pps ?? manifest.traffic.pps }),
  };
}
