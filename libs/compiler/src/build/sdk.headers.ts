import { promises as fsp } from 'node:fs';
import { resolve } from 'node:path';

/**
 * ioplane's own headers, which a module names with `<...>` like a system header: the chain
 * epilogue every chained module ends with. One original in modules/include (the agent package
 * ships that folder too), handed to every build, instead of a copy in each module folder that
 * could drift from what the agent's root program expects.
 */
export const SDK_INCLUDE_DIR = resolve(__dirname, '..', '..', '..', '..', 'modules', 'include');
export const SDK_HEADERS = ['iop_chain.h'] as const;

/**
 * Where the headers sit inside a build's private folder. A dot folder: the module walk never
 * copies dot entries, so no module file can land on (or shadow) these paths.
 */
export const SDK_BUILD_SUBDIR = '.ioplane-sdk';

/** The headers' bytes, keyed by their path inside the build folder; they enter the build digest. */
export async function readSdkHeaders(dir = SDK_INCLUDE_DIR): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const name of SDK_HEADERS) out.set(`${SDK_BUILD_SUBDIR}/${name}`, await fsp.readFile(resolve(dir, name)));
  return out;
}
