export type BuildErrorCode =
  | 'invalid_source'
  | 'include_refused'
  | 'asm_refused'
  | 'compile_error'
  | 'link_error'
  | 'timeout'
  | 'aborted'
  | 'resource_limit'
  | 'tool_missing'
  /** bwrap cannot run here, so sources that did not ship with ioplane are not built at all. */
  | 'sandbox_unavailable'
  | 'invalid_object';

export interface Diagnostic {
  /** Relative to the module folder for the module's own files; absolute for system headers. */
  file: string;
  line: number;
  column: number;
  severity: 'error' | 'warning' | 'note' | 'fatal error';
  message: string;
}

export interface BuildErrorInit {
  file?: string;
  line?: number;
  field?: string;
  diagnostics?: Diagnostic[];
  cause?: unknown;
}

/** A refused or failed build: a code to branch on, a message for humans, and where it points. */
export class BuildError extends Error {
  readonly code: BuildErrorCode;
  readonly file?: string;
  readonly line?: number;
  /** Input field the error is about (`sources`, `dir`, `timeoutMs`, ...). */
  readonly field?: string;
  readonly diagnostics: Diagnostic[];

  constructor(code: BuildErrorCode, message: string, init: BuildErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'BuildError';
    this.code = code;
    this.file = init.file;
    this.line = init.line;
    this.field = init.field;
    this.diagnostics = init.diagnostics ?? [];
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      file: this.file,
      line: this.line,
      field: this.field,
      diagnostics: this.diagnostics,
    };
  }
}
