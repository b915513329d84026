import { buildOAuthHeader } from './maas-sim.auth';

/**
 * A minimal MAAS client for specs and e2e tests: signs every call afresh (new nonce),
 * sends form-urlencoded bodies with repeated keys for lists, and returns status, headers and parsed body.
 */
export interface SimResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

export interface CallOptions {
  method?: string;
  form?: Record<string, string | string[]>;
  auth?: string | null;
  headers?: Record<string, string>;
}

export async function maasCall(apiUrl: string, apiKey: string, path: string, opts: CallOptions = {}): Promise<SimResponse> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  const auth = opts.auth === undefined ? buildOAuthHeader(apiKey) : opts.auth;
  if (auth !== null) headers.Authorization = auth;
  let body: string | undefined;
  if (opts.form) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.form)) for (const x of Array.isArray(v) ? v : [v]) p.append(k, x);
    body = p.toString();
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
  }
  const res = await fetch(new URL(path, apiUrl), { method: opts.method ?? (opts.form ? 'POST' : 'GET'), headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}
