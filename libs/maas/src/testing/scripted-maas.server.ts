import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the scripted server saw for one HTTP request. */
export interface SeenRequest {
  method: string;
  /** Path below /MAAS/api/2.0/, e.g. `machines/abc/`. */
  path: string;
  query: URLSearchParams;
  rawQuery: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  form: URLSearchParams;
  oauth: Record<string, string> | null;
}

export type Reply = { status?: number; json?: unknown; text?: string; headers?: Record<string, string> } | 'reset' | 'hang';

export type Handler = (req: SeenRequest) => Reply | Promise<Reply>;

export const TEST_KEY = { consumer: 'ckConsumer01', token: 'tkToken0001', secret: 'sEcReTtokenSecret42' };
export const TEST_API_KEY = `${TEST_KEY.consumer}:${TEST_KEY.token}:${TEST_KEY.secret}`;

const API_PREFIX = '/MAAS/api/2.0/';

function parseOAuth(header: string | undefined): Record<string, string> | null {
  if (!header?.startsWith('OAuth ')) return null;
  const out: Record<string, string> = {};
  for (const m of header.slice(6).matchAll(/([a-z_]+)="([^"]*)"/g)) out[m[1]] = m[2];
  return out;
}

/**
 * A real HTTP server that checks MAAS's OAuth rules (all six parameters, integer
 * timestamp, no nonce reuse) and answers from a script, so the client is exercised
 * over real sockets.
 */
export class ScriptedMaas {
  readonly requests: SeenRequest[] = [];
  private readonly queue: Reply[] = [];
  private readonly nonces = new Set<string>();
  private server?: http.Server;
  /** Answers requests once the scripted replies are used up. */
  fallback: Handler = () => ({ status: 500, text: 'no scripted reply' });

  /** Replies for the next requests, in order (authenticated or not). */
  script(...replies: Reply[]): this {
    this.queue.push(...replies);
    return this;
  }

  reset(): void {
    this.requests.length = 0;
    this.queue.length = 0;
    this.fallback = () => ({ status: 500, text: 'no scripted reply' });
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/MAAS/`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private authError(oauth: Record<string, string> | null): Reply | null {
    if (!oauth) return { status: 401, text: 'Authorization Error: no OAuth credentials' };
    for (const k of ['oauth_consumer_key', 'oauth_token', 'oauth_signature', 'oauth_signature_method', 'oauth_timestamp', 'oauth_nonce']) {
      if (!oauth[k]) return { status: 401, text: `Authorization Error: missing ${k}` };
    }
    if (!/^\d+$/.test(oauth.oauth_timestamp)) return { status: 400, text: 'Invalid timestamp' };
    const sig = decodeURIComponent(oauth.oauth_signature);
    if (oauth.oauth_consumer_key !== TEST_KEY.consumer || oauth.oauth_token !== TEST_KEY.token || sig !== `&${TEST_KEY.secret}`) {
      return { status: 401, text: 'Authorization Error: Invalid API key.' };
    }
    if (this.nonces.has(oauth.oauth_nonce)) return { status: 401, text: 'Authorization Error: nonce already used' };
    this.nonces.add(oauth.oauth_nonce);
    return null;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://x');
    const seen: SeenRequest = {
      method: req.method ?? '',
      path: url.pathname.startsWith(API_PREFIX) ? url.pathname.slice(API_PREFIX.length) : url.pathname,
      query: url.searchParams,
      rawQuery: url.search.replace(/^\?/, ''),
      headers: req.headers,
      body,
      form: new URLSearchParams(body),
      oauth: parseOAuth(req.headers.authorization),
    };
    this.requests.push(seen);
    const denied = seen.path === 'version/' ? null : this.authError(seen.oauth);
    let reply: Reply;
    if (!url.pathname.startsWith(API_PREFIX)) reply = { status: 404, text: 'not under /MAAS/api/2.0/' };
    else if (denied) reply = denied;
    else reply = this.queue.length > 0 ? this.queue.shift()! : await this.fallback(seen);

    if (reply === 'reset') {
      req.socket.destroy();
      return;
    }
    if (reply === 'hang') return;
    const isJson = reply.json !== undefined;
    res.writeHead(reply.status ?? 200, {
      'Content-Type': isJson ? 'application/json' : 'text/plain',
      ...reply.headers,
    });
    res.end(isJson ? JSON.stringify(reply.json) : (reply.text ?? ''));
  }
}
