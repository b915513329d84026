import type { IncomingMessage } from 'node:http';
import { badRequest, MaasError } from './maas-sim.errors';

/** Request parameters with Django QueryDict semantics: repeated keys are lists, `get` returns the last value. */
export class Params {
  constructor(readonly entries: Array<[string, string]> = []) {}

  static fromSearch(search: URLSearchParams): Params {
    return new Params([...search.entries()]);
  }

  get(key: string): string | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries[i][0] === key) return this.entries[i][1];
    return undefined;
  }

  /** All values of a repeated key; comma-separated values are split too, as MAAS list fields do. */
  list(key: string, splitCommas = false): string[] {
    const values = this.entries.filter(([k]) => k === key).map(([, v]) => v);
    const out = splitCommas ? values.flatMap((v) => v.split(',')) : values;
    return out.map((v) => v.trim()).filter((v) => v !== '');
  }

  has(key: string): boolean {
    return this.entries.some(([k]) => k === key);
  }

  without(...keys: string[]): Params {
    return new Params(this.entries.filter(([k]) => !keys.includes(k)));
  }

  bool(key: string, fallback = false): boolean {
    const v = this.get(key);
    if (v === undefined || v === '') return fallback;
    const parsed = parseBoolean(v);
    if (parsed === undefined) throw badRequest({ [key]: [`'${v}' value must be either True or False.`] });
    return parsed;
  }

  int(key: string): number | undefined {
    const v = this.get(key);
    if (v === undefined || v === '') return undefined;
    if (!/^-?\d+$/.test(v.trim())) throw badRequest({ [key]: ['Enter a whole number.'] });
    return Number(v);
  }
}

const TRUE = new Set(['true', '1', 'yes', 'on', 't', 'y']);
const FALSE = new Set(['false', '0', 'no', 'off', 'f', 'n']);

export function parseBoolean(v: string): boolean | undefined {
  const s = v.trim().toLowerCase();
  if (TRUE.has(s)) return true;
  if (FALSE.has(s)) return false;
  return undefined;
}

export interface UploadedFile {
  filename: string;
  contentType: string;
  data: Buffer;
}

export interface ParsedBody {
  params: Params;
  files: Map<string, UploadedFile>;
}

const MAX_BODY = 16 * 1024 * 1024;

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new MaasError(413, 'Request body too large.'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** MAAS bodies are form-urlencoded or multipart, never JSON. */
export function parseBody(contentType: string | undefined, body: Buffer): ParsedBody {
  const files = new Map<string, UploadedFile>();
  if (body.length === 0) return { params: new Params(), files };
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'multipart/form-data') {
    const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType ?? '');
    if (!boundary) throw badRequest('Invalid multipart/form-data: missing boundary.');
    return parseMultipart(body, boundary[1] ?? boundary[2].trim());
  }
  if (type === '' || type === 'application/x-www-form-urlencoded') {
    return { params: Params.fromSearch(new URLSearchParams(body.toString('utf8'))), files };
  }
  throw new MaasError(415, `Unsupported content type: ${type}. Use application/x-www-form-urlencoded or multipart/form-data.`);
}

function parseMultipart(body: Buffer, boundary: string): ParsedBody {
  const entries: Array<[string, string]> = [];
  const files = new Map<string, UploadedFile>();
  const delimiter = Buffer.from(`--${boundary}`);
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw badRequest('Invalid multipart/form-data: boundary not found.');
  while (true) {
    pos += delimiter.length;
    if (body.slice(pos, pos + 2).toString() === '--') break;
    if (body.slice(pos, pos + 2).toString() === '\r\n') pos += 2;
    const next = body.indexOf(delimiter, pos);
    if (next < 0) throw badRequest('Invalid multipart/form-data: unterminated part.');
    const part = body.slice(pos, next - 2); // drop the CRLF before the delimiter
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd < 0) throw badRequest('Invalid multipart/form-data: part without headers.');
    const headers = part.slice(0, headerEnd).toString('utf8');
    const data = part.slice(headerEnd + 4);
    const disposition = /content-disposition:[^\r\n]*/i.exec(headers)?.[0] ?? '';
    const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
    const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
    if (name !== undefined) {
      if (filename !== undefined) {
        const ct = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1] ?? 'application/octet-stream';
        files.set(name, { filename, contentType: ct.trim(), data: Buffer.from(data) });
      } else {
        entries.push([name, data.toString('utf8')]);
      }
    }
    pos = next;
  }
  return { params: new Params(entries), files };
}
