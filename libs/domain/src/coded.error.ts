/**
 * The base of every error ioplane reasons about: a code from its area's closed set (a caller, a
 * metric or an HTTP mapping switches on it), a message for people, and the request field or
 * instruction it points at. Messages may be reworded freely; codes may not.
 */
export class CodedError<C extends string = string> extends Error {
  constructor(
    readonly code: C,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }

  toJSON(): { code: C; message: string; field?: string } {
    return { code: this.code, message: this.message, ...(this.field === undefined ? {} : { field: this.field }) };
  }
}

/** The code of any error: a CodedError's, a `code` string property's (Node's, an agent's), else null. */
export function errorCode(e: unknown): string | null {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : null;
}
