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
  /** The type the object was loaded with (`type` of bpftool prog loadall), or null when libbpf read each section. */
  loadType: string | null;
  /** Programs the kernel took (loadall is all or nothing: every program of the object, or none). */
  loadedPrograms: string[];
  /** When refused: the program libbpf named as the one the kernel refused. */
  refusedProgram?: string;
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
export function kernelVerify(objectPath: string, opts: { program?: string; type?: string } = {}): Promise<KernelVerifyResult> {
  const loadType = opts.type ?? null;
  return withLoadedObject(objectPath, opts, async (o) => {
    if (!o.loaded) {
      return {
        accepted: false,
        verifierLog: o.verifierLog,
        loadType,
        loadedPrograms: [],
        ...(o.refusedProgram ? { refusedProgram: o.refusedProgram } : {}),
      };
    }
    const show = JSON.parse(await bpftoolOk(['prog', 'show', 'pinned', o.object.progPin, '-j'])) as ProgShow;
    return {
      accepted: true,
      progId: show.id,
      tag: show.tag,
      xlatedInsns: show.bytes_xlated === undefined ? undefined : Math.floor(show.bytes_xlated / 8),
      jitedBytes: show.bytes_jited,
      verifierLog: [],
      loadType,
      loadedPrograms: o.object.programs,
    };
  });
}
