import { promises as fsp } from 'node:fs';
import type { ModuleReport } from '@ioplane/catalog';
import { ModuleManifest, packetHex } from '@ioplane/modules';
import { artifactDigest, ArtifactRef } from '@ioplane/rollout';
import type { PlacementRequest } from './placement-request.schema';

/**
 * What a rollout ships of a planned module, fixed at plan time from the build and analysis the
 * plan was made with: the object by the sha256 of its bytes (agents check signatures over the
 * bytes they receive), the program, the maps kept across loads, the rate and the test vectors.
 * Returns the bytes beside the reference, for whoever stores them under that address.
 */
export async function artifactRefOf(
  report: ModuleReport,
  manifest: ModuleManifest,
  asked: PlacementRequest['modules'][number],
): Promise<{ ref: ArtifactRef; bytes: Buffer }> {
  const bytes = await fsp.readFile(report.artifact.objectPath);
  return {
    bytes,
    ref: {
      name: manifest.name,
      version: manifest.version,
      digest: artifactDigest(bytes),
      program: report.program.name,
      persistentMaps: manifest.hints.persistentMaps,
      ...(manifest.matchAction ? { matchAction: manifest.matchAction } : {}),
      pps: asked.traffic?.pps ?? manifest.traffic.pps,
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
    },
  };
}
