import { bpftoolOk } from './bpftool.client';
import { withLoadedObject } from './pin.session';

export interface KernelVerifyResult {
  accepted: boolean;
  progId?: number;
  tag?: string;
  xlatedInsns?: number;
  jitedBytes?: number;
  /** The verifier's error lines when the kernel refused the program; empty when accepted. */
  verifierLog: string[];
}

interface ProgShow {
  id: number;
  tag: string;
  bytes_xlated?: number;
  bytes_jited?: number;
}

/**
 * Loads the object into the kernel (which runs the verifier and JIT), reads what the kernel made
 * of the selected program, then unloads it. The ids are only meaningful while it was loaded.
 */
export function kernelVerify(objectPath: string, opts: { program?: string; type?: 'xdp' } = {}): Promise<KernelVerifyResult> {
  return withLoadedObject(objectPath, opts, async (o) => {
    if (!o.loaded) return { accepted: false, verifierLog: o.verifierLog };
    const show = JSON.parse(await bpftoolOk(['prog', 'show', 'pinned', o.object.progPin, '-j'])) as ProgShow;
    return {
      accepted: true,
      progId: show.id,
      tag: show.tag,
      xlatedInsns: show.bytes_xlated === undefined ? undefined : Math.floor(show.bytes_xlated / 8),
      jitedBytes: show.bytes_jited,
      verifierLog: [],
    };
  });
}
