import { spawn, ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { ensurePrivateDir } from './data.dir';

export interface EmbeddedRedis {
  /** `redis://:<password>@127.0.0.1:<port>`: a secret, never to be logged. */
  url: string;
  port: number;
  pid: number;
  password: string;
  stop(): Promise<void>;
}

/** How often a SIGTERM Redis dropped is sent again, and when a server that will not stop is killed. */
const STOP_RETRY_MS = 1_000;
const STOP_KILL_MS = 60_000;
const PASSWORD = /^[A-Za-z0-9._~-]{16,256}$/;

/** Asks the kernel for a free loopback port by binding port 0. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? ok(addr.port) : fail(new Error('no port'))));
    });
  });
}

/**
 * Spawns `redis-server` from PATH, run as a system of record: AOF on with
 * everysec fsync and noeviction, so queued jobs and desired state survive a restart.
 * It only ever listens on loopback and always wants a password (`password`, or a random one):
 * any local user could otherwise read tokens' hashes and rewrite desired state.
 */
export async function startEmbeddedRedis(opts: {
  dataDir: string;
  port?: number;
  bin?: string;
  password?: string;
  /** More config-file lines (a replica's `replicaof` and `masterauth`, a cluster node's `cluster-enabled`): the fault tests' HA topologies. */
  config?: string[];
}): Promise<EmbeddedRedis> {
  const password = opts.password ?? randomBytes(24).toString('hex');
  // URL-safe characters only, so the password travels in REDIS_URL without encoding.
  if (!PASSWORD.test(password)) throw new Error('embedded Redis password must be 16-256 characters of letters, digits, . _ ~ -');
  const dir = resolve(opts.dataDir);
  // The AOF holds every token hash and the desired state: nobody else reads it.
  ensurePrivateDir(dir);
  const port = opts.port ?? (await freePort());
  const child = spawn(
    opts.bin ?? 'redis-server',
    [
      // The password comes on stdin as a config file: on the command line every local user could read it in ps.
      '-',
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--maxmemory-policy',
      'noeviction',
      '--save',
      '',
      '--daemonize',
      'no',
      '--protected-mode',
      'yes',
    ],
    // Its own process group: a Ctrl-C in the terminal reaches ioplane, which stops Redis last,
    // after the workers have drained, instead of Redis dying first under them.
    { stdio: ['pipe', 'pipe', 'pipe'], detached: true },
  );
  child.stdin?.on('error', () => undefined);
  child.stdin?.end([`requirepass ${password}`, ...(opts.config ?? [])].map((l) => `${l}\n`).join(''));
  // If ioplane itself dies, its Redis goes with it rather than lingering.
  const reap = () => child.kill('SIGTERM');
  process.once('exit', reap);
  try {
    await waitReady(child, port);
  } catch (e) {
    // A server that never became ready (its port taken, say) must not outlive the refusal.
    process.off('exit', reap);
    child.kill('SIGKILL');
    throw e;
  }
  let stopped: Promise<void> | null = null;
  const stop = () => {
    stopped ??= new Promise<void>((ok) => {
      process.off('exit', reap);
      if (child.exitCode !== null || child.signalCode !== null) return ok();
      // Redis drops a SIGTERM it gets while writing its first AOF ("Writing initial AOF, can't
      // exit": AOF just switched on, or a replica right after a full sync) and runs on. Asked again
      // each second, it shuts down cleanly once that write is done; a server still up after
      // STOP_KILL_MS is killed, so nothing waits on it for ever.
      const again = setInterval(() => child.kill('SIGTERM'), STOP_RETRY_MS);
      const kill = setTimeout(() => child.kill('SIGKILL'), STOP_KILL_MS);
      child.once('exit', () => {
        clearInterval(again);
        clearTimeout(kill);
        ok();
      });
      child.kill('SIGTERM');
    });
    return stopped;
  };
  return { url: `redis://:${password}@127.0.0.1:${port}`, port, pid: child.pid!, password, stop };
}

function waitReady(child: ChildProcess, port: number): Promise<void> {
  return new Promise<void>((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`redis-server on port ${port} not ready after 10 s:\n${out}`));
    }, 10_000);
    const onData = (buf: Buffer) => {
      out += buf.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        // Keep draining so a full pipe never blocks the server.
        child.stdout?.resume();
        child.stderr?.resume();
        ok();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    child.once('error', (err) => {
      clearTimeout(timer);
      fail(new Error(`cannot start redis-server: ${err.message}. Install it (apt-get install redis-server) or set REDIS_URL.`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`redis-server exited with code ${code} before it was ready:\n${out}`));
    });
  }).then(() => {
    child.removeAllListeners('exit');
  });
}
