export type MaasErrorCode = 'auth' | 'forbidden' | 'not_found' | 'conflict' | 'validation' | 'unavailable' | 'bad_response' | 'config';

export interface MaasErrorDetails {
  status?: number;
  /** Request path relative to the API root, e.g. `machines/abc123/?op=deploy`. */
  path?: string;
  /** The field the error points at (validation: first rejected field; bad_response: JSON path). */
  field?: string;
  fieldErrors?: Record<string, string[]>;
  cause?: unknown;
}

export class MaasError extends Error {
  readonly code: MaasErrorCode;
  readonly status?: number;
  readonly path?: string;
  readonly field?: string;
  readonly fieldErrors?: Record<string, string[]>;

  constructor(code: MaasErrorCode, message: string, details: MaasErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'MaasError';
    this.code = code;
    this.status = details.status;
    this.path = details.path;
    this.field = details.field;
    this.fieldErrors = details.fieldErrors;
  }
}

export class MaasAuthError extends MaasError {
  constructor(message: string, details: MaasErrorDetails = {}) {
    super('auth', message, details);
    this.name = 'MaasAuthError';
  }
}

export class MaasForbiddenError extends MaasError {
  constructor(message: string, details: MaasErrorDetails = {}) {
    super('forbidden', message, details);
    this.name = 'MaasForbiddenError';
  }
}

export class MaasNotFoundError extends MaasError {
  constructor(message: string, details: MaasErrorDetails = {}) {
    super('not_found', message, details);
    this.name = 'MaasNotFoundError';
  }
}

export class MaasConflictError extends MaasError {
  constructor(message: string, details: MaasErrorDetails = {}) {
    super('conflict', message, details);
    this.name = 'MaasConflictError';
  }
}

export class MaasValidationError extends MaasError {
  declare readonly fieldErrors: Record<string, string[]>;
  constructor(message: string, details: MaasErrorDetails & { fieldErrors: Record<string, string[]> }) {
    super('validation', message, details);
    this.name = 'MaasValidationError';
  }
}

export class MaasUnavailableError extends MaasError {
  /** HTTP attempts made before giving up; 0 when the circuit breaker refused the call. */
  readonly attempts: number;
  constructor(message: string, attempts: number, details: MaasErrorDetails = {}) {
    super('unavailable', message, details);
    this.name = 'MaasUnavailableError';
    this.attempts = attempts;
  }
}

export class MaasConfigError extends MaasError {
  constructor(message: string, field?: string) {
    super('config', message, { field });
    this.name = 'MaasConfigError';
  }
}

/** Django-style key for errors that belong to no single field. */
export const NON_FIELD_ERRORS = '__all__';

/**
 * MAAS answers 400 either with JSON `{"field": ["msg", ...]}` or with plain text
 * (e.g. `Unrecognised signature: method=POST op=foo`); both become fieldErrors.
 */
export function parseFieldErrors(body: string): Record<string, string[]> {
  const text = body.trim();
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      const out: Record<string, string[]> = {};
      for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
        if (Array.isArray(value)) out[key] = value.map((v) => String(v));
        else if (value !== null && value !== undefined) out[key] = [String(value)];
      }
      if (Object.keys(out).length > 0) return out;
    }
    if (typeof parsed === 'string') return { [NON_FIELD_ERRORS]: [parsed] };
  } catch {
    // not JSON: MAAS often answers text/plain
  }
  return text ? { [NON_FIELD_ERRORS]: [text] } : {};
}

export function describeFieldErrors(fieldErrors: Record<string, string[]>): string {
  return Object.entries(fieldErrors)
    .map(([field, msgs]) => (field === NON_FIELD_ERRORS ? msgs.join(' ') : `${field}: ${msgs.join(' ')}`))
    .join('; ');
}
