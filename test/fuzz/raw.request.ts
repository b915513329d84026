import { request as httpRequest } from 'node:http';

export interface RawRequest {
  method: string;
  /** Sent as is: no normalisation of `..`, no re-encoding. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

export interface RawResponse {
  status: number;
  /** The parsed JSON body, or the raw text when it is not JSON. */
  body: unknown;
  text: string;
  ms: number;
}

/** A request outlasting its deadline, or a connection that died without an answer. */
export class NoAnswer extends Error {}

/** One HTTP request with a hard deadline; the connection is not reused, so one case cannot poison the next. */
export function rawRequest(base: string, r: RawRequest, deadlineMs: number): Promise<RawResponse> {
  const url = new URL(base);
  const started = Date.now();
  const body = r.body === undefined ? undefined : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body, 'utf8');
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: url.hostname,
      port: url.port,
      method: r.method,
      path: r.path,
      agent: false,
      headers: { ...(body ? { 'content-length': String(body.length) } : {}), ...(r.headers ?? {}) },
    });
    const timer = setTimeout(() => req.destroy(new NoAnswer(`no answer within ${deadlineMs} ms`)), deadlineMs);
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          // Not JSON: the check reports it as a body of the wrong shape.
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, text, ms: Date.now() - started });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(new NoAnswer(`response broke off: ${e.message}`));
      });
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e instanceof NoAnswer ? e : new NoAnswer(`connection failed: ${e.message}`));
    });
    // A socket closed with neither an answer nor an error would otherwise leave the promise pending.
    req.on('close', () =>
      setImmediate(() => {
        if (!answered) {
          clearTimeout(timer);
          reject(new NoAnswer('connection closed without an answer'));
        }
      }),
    );
    if (body) req.write(body);
    req.end();
  });
}
