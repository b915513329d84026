import { spawn } from 'node:child_process';

/** node with the TypeScript loader the repo's scripts use: `[...TS_NODE, 'apps/<app>/src/main.ts']` runs an entry from source. */
export const TS_NODE = [process.execPath, '-r', '@swc-node/register'];

export interface EntryRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a TypeScript entry (`args[0]`, a path from the repo root, then its arguments) in a process
 * of its own with `env` added to this one's; resolves with its exit code and output, rejects if it
 * runs longer than `timeoutMs` (killed, its output in the error).
 */
export function runEntry(args: string[], o: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<EntryRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(TS_NODE[0], [...TS_NODE.slice(1), ...args], { env: { ...process.env, ...o.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} timed out\n${stdout}\n${stderr}`));
    }, o.timeoutMs ?? 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
