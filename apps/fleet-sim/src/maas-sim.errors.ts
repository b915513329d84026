/** An HTTP answer the handlers raise; the router turns it into a response. Bodies are text or a `{field: [msg]}` object. */
export class MaasError extends Error {
  constructor(
    readonly status: number,
    readonly body: string | Record<string, string[]>,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body === 'string' ? body : JSON.stringify(body));
    this.name = 'MaasError';
  }
}

export const badRequest = (body: string | Record<string, string[]>) => new MaasError(400, body);
export const forbidden = (body: string) => new MaasError(403, body);
export const notFound = (body: string) => new MaasError(404, body);
/** A state violation: 409 without Retry-After, so a good client does not retry it. */
export const conflict = (body: string) => new MaasError(409, body);
