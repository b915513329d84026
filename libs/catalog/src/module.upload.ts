import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { moduleManifestSchema, ModuleManifest } from '@ioplane/modules';

const FILE_NAME = /^[A-Za-z0-9_.-]+\.(c|h)$/;
const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, { error: 'must be base64' }).min(1, { error: 'must not be empty' });
const MAX_FILE_BYTES = 1 << 20;

/**
 * An upload is a manifest plus either the C sources or a BPF object built elsewhere.
 * An object upload needs no sources and may come without test vectors.
 */
export const moduleUploadSchema = z
  .strictObject({
    manifest: moduleManifestSchema.extend({
      sources: moduleManifestSchema.shape.sources.optional(),
      vectors: moduleManifestSchema.shape.vectors.unwrap().array().optional(),
    }),
    files: z.record(z.string().regex(FILE_NAME, { error: 'file names must be plain .c or .h names' }), base64).optional(),
    object: base64.optional(),
  })
  .superRefine((v, ctx) => {
    if ((v.files === undefined) === (v.object === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'must have exactly one of files (C sources) or object (a BPF ELF)', path: ['files'] });
      return;
    }
    if (v.files) {
      const names = Object.keys(v.files);
      if (!names.some((n) => n.endsWith('.c'))) ctx.addIssue({ code: 'custom', message: 'must contain at least one .c file', path: ['files'] });
      for (const n of names) {
        if (Buffer.byteLength(v.files[n], 'base64') > MAX_FILE_BYTES) ctx.addIssue({ code: 'custom', message: 'is over 1 MiB', path: ['files', n] });
      }
      for (const s of v.manifest.sources ?? []) {
        if (!(s in v.files)) ctx.addIssue({ code: 'custom', message: `names ${s}, which is not among the uploaded files`, path: ['manifest', 'sources'] });
      }
    } else if (!v.manifest.vectors?.length && v.manifest.seed?.length) {
      ctx.addIssue({ code: 'custom', message: 'seeds maps for vectors, but there are none', path: ['manifest', 'seed'] });
    }
  });
export type ModuleUpload = z.infer<typeof moduleUploadSchema>;

export function uploadedManifest(u: ModuleUpload, dir?: string): ModuleManifest {
  const sources = u.manifest.sources ?? Object.keys(u.files ?? {}).filter((n) => n.endsWith('.c')).sort();
  return { ...u.manifest, sources, vectors: u.manifest.vectors ?? [], dir };
}

/** Writes uploaded sources into a private folder for the build sandbox to copy; always removed after. */
export async function withUploadedSources<T>(files: Record<string, string>, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'ioplane-upload-'));
  try {
    for (const [name, b64] of Object.entries(files)) writeFileSync(join(dir, name), Buffer.from(b64, 'base64'), { mode: 0o600 });
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
