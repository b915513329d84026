import { readFileSync } from 'node:fs';

/** A line of an environment file the agent cannot read; `line` is 1-based. */
export class EnvFileError extends Error {
  readonly code = 'invalid_env_file';
  constructor(
    readonly file: string,
    readonly line: number,
    reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
  }
}

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses the subset of systemd's EnvironmentFile= syntax that /etc/ioplane/agent.env uses:
 * `KEY=value` lines, `#`/`;` comments, blank lines, an optional `export `, and values in single or
 * double quotes (no expansion). The same file drives the unit and a run by hand, so both read it alike.
 */
export function parseEnvFile(text: string, file = 'agent.env'): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) return;
    const eq = line.indexOf('=');
    if (eq < 0) throw new EnvFileError(file, i + 1, 'expected KEY=value');
    const key = line
      .slice(0, eq)
      .trim()
      .replace(/^export\s+/, '');
    if (!KEY.test(key)) throw new EnvFileError(file, i + 1, `"${key}" is not a variable name`);
    let value = line.slice(eq + 1).trim();
    const q = value[0];
    if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) value = value.slice(1, -1);
    else if (q === '"' || q === "'") throw new EnvFileError(file, i + 1, `${key}: unterminated quote`);
    out[key] = value;
  });
  return out;
}

/** The process environment over the file's settings: a variable set on the command line wins. */
export function readEnvFile(file: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...parseEnvFile(readFileSync(file, 'utf8'), file), ...env };
}
