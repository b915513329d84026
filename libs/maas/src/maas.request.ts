import * as http from 'node:http';
import * as https from 'node:https';
import { MaasConfigError } from './maas.errors';

export type ParamValue = string | number | boolean | null | undefined;
export type Params = Record<string, ParamValue | readonly ParamValue[]>;

export function normaliseBaseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new MaasConfigError(`MAAS url is not a valid URL: ${JSON.stringify(raw)}`, 'url');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new MaasConfigError(`MAAS url must be http or https, got ${url.protocol}`, 'url');
  }
  if (url.username || url.password) {
    throw new MaasConfigError('MAAS url must not carry credentials; use apiKey', 'url');
  }
  const path = url.pathname.replace(/\/+$/, '');
  url.pathname = /\/api\/2\.0$/.test(path) ? `${path}/` : `${path}/api/2.0/`;
  url.search = '';
  url.hash = '';
  return url;
}

export function encodeParams(params: Params | undefined, into = new URLSearchParams()): URLSearchParams {
  for (const [key, value] of Object.entries(params ?? {})) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values as ParamValue[]) {
      if (v === undefined || v === null) continue;
      into.append(key, String(v));
    }
  }
  return into;
}

export function parseRetryAfter(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function exchange(
  url: URL,
  method: string,
  headers: http.OutgoingHttpHeaders,
  payload: string | undefined,
  signal: AbortSignal,
  agent: http.Agent,
): Promise<RawResponse> {
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise<RawResponse>((resolve, reject) => {
    const req = lib.request(url, { method, headers, agent, signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('aborted', () => reject(Object.assign(new Error('response aborted'), { code: 'ECONNRESET' })));
      res.on('end', () => {
        if (!res.complete) {
          reject(Object.assign(new Error('response ended before it was complete'), { code: 'ECONNRESET' }));
          return;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}
