import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { moduleManifestSchema, ModuleManifest } from '@ioplane/modules';

// Plain names: no folder, no leading '-' (a compiler flag) or '.' (a hidden file the build does not copy).
const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\.(c|h)$/;
const base64 = z
  .string()
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, { error: 'must be base64' })
  .min(1, { error: 'must not be empty' });
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
    files: z
      .record(
        z.string().regex(FILE_NAME, {
          error: 'file names must be plain .c or .h names (letters, digits, _ . -; no folders, not starting with - or .)',
        }),
        base64,
      )
      .optional(),
    object: base64.optional(),
  })
  .superRefine((v, ctx) => {
    if ((v.files === undefined) === (v.object === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'must have exactly one of files (C sources) or object (a BPF ELF)', path: ['files'] });
      return;
    }
    if (v.files) {
      const names = Object.keys(v.files);
      if (!names.some((n) => n.endsWith('.c')))
        ctx.addIssue({ code: 'custom', message: 'must contain at least one .c file', path: ['files'] });
      for (const n of names) {
        if (Buffer.byteLength(v.files[n], 'base64') > MAX_FILE_BYTES)
          ctx.addIssue({ code: 'custom', message: 'is over 1 MiB', path: ['files', n] });
      }
      for (const s of v.manifest.sources ?? []) {
        if (!(s in v.files))
          ctx.addIssue({ code: 'custom', message: `names ${s}, which is not among the uploaded files`, path: ['manifest', 'sources'] });
      }
    } else if (!v.manifest.vectors?.length && v.manifest.seed?.length) {
      ctx.addIssue({ code: 'custom', message: 'seeds maps for vectors, but there are none', path: ['manifest', 'seed'] });
    }
  });
export type ModuleUpload = z.infer<typeof moduleUploadSchema>;

export function uploadedManifest(u: ModuleUpload, dir?: string): ModuleManifest {
  const sources =
    u.manifest.sources ??
    Object.keys(u.files ?? {})
      .filter((n) => n.endsWith('.c'))
      .sort();
  return { ...u.manifest, sources, vectors: u.manifest.vectors ?? [], dir };
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * What "the same upload" means for an immutable version: the manifest as stored (key order does
 * not matter) and the bytes of each file or of the object (base64 spelling does not matter).
 */
export function uploadDigest(manifest: Record<string, unknown>, content: { files?: Record<string, string>; object?: string }): string {
  const h = createHash('sha256');
  const field = (b: Buffer | string): void => {
    const buf = typeof b === 'string' ? Buffer.from(b) : b;
    h.update(`${buf.length}:`);
    h.update(buf);
  };
  const { dir: _dir, ...stored } = manifest;
  field(canonical(stored));
  if (content.files) {
    for (const name of Object.keys(content.files).sort()) {
      field(name);
      field(Buffer.from(content.files[name], 'base64'));
    }
  } else {
    field('object');
    field(Buffer.from(content.object ?? '', 'base64'));
  }
  return h.digest('hex');
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
