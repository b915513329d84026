import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import type { Device } from '@ioplane/domain';
import { runProcess } from '@ioplane/compiler';
import { netnsPath, type EmulatedPortsSpec } from '@ioplane/devices';

const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
const find = (...paths: string[]): string | undefined => paths.find((p) => existsSync(p));
const IP = find('/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip') ?? 'ip';
const NSENTER = find('/usr/bin/nsenter', '/bin/nsenter', '/usr/sbin/nsenter');
const SETPRIV = find('/usr/bin/setpriv', '/bin/setpriv');
const REPO = resolve(__dirname, '..', '..', '..');
/** The production entry point, as `npm run start:agent` runs it (TypeScript through swc in a checkout). */
const AGENT_MAIN = join(REPO, 'apps', 'agent', 'src', `main${extname(__filename)}`);

async function ip(args: string[], allowFail = false): Promise<void> {
  const r = await runProcess(IP, args, { timeoutMs: 20_000, env: ENV });
  if (r.code !== 0 && !allowFail) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr.trim()}`);
}

/** An emulated machine's management port: where its agent listens, reached from the root namespace. */
export interface MgmtAddress {
  /** The root namespace's end (the simulator's side of the management network). */
  gateway: string;
  /** The machine's address on `mgmt0`, which MAAS reports and the controller dials. */
  address: string;
}

/**
 * A /30 per machine in 10.215.0.0/16, in a run of /24 blocks no address of the root namespace
 * uses yet (another simulator's), starting where the instance id hashes to so two simulators
 * rarely even look at the same block.
 */
export async function mgmtAddresses(instanceId: string, machines: number): Promise<(index: number) => MgmtAddress> {
  const r = await runProcess(IP, ['-j', '-4', 'addr', 'show'], { timeoutMs: 10_000, env: ENV });
  const used = new Set<number>();
  for (const l of JSON.parse(r.stdout || '[]') as { addr_info?: { local?: string }[] }[]) {
    for (const a of l.addr_info ?? []) {
      const m = /^10\.215\.(\d+)\./.exec(a.local ?? '');
      if (m) used.add(Number(m[1]));
    }
  }
  const need = Math.max(1, Math.ceil(machines / 64));
  const start = createHash('sha256').update(instanceId).digest().readUInt8(0);
  let block = -1;
  for (let k = 0; k < 256 && block < 0; k++) {
    const b = (start + k) % 256;
    if (b + need <= 256 && Array.from({ length: need }, (_, j) => b + j).every((x) => !used.has(x))) block = b;
  }
  if (block < 0) throw new Error(`no free management block in 10.215.0.0/16 for ${machines} machines`);
  return (i) => {
    const o3 = block + Math.floor(i / 64);
    const base = (i % 64) * 4;
    return { gateway: `10.215.${o3}.${base + 1}`, address: `10.215.${o3}.${base + 2}` };
  };
}

/** The root namespace's end of a machine's management link (15 characters at most). */
export function mgmtLinkName(instanceId: string, systemId: string): string {
  return `iom${createHash('sha256').update(`${instanceId}/${systemId}`).digest('hex').slice(0, 10)}`;
}

/**
 * Joins a machine's namespace to the root namespace by a veth pair, as a management network
 * joins a real host to its controller: `mgmt0` inside with the machine's address and a default
 * route to the root's end. The pair goes with the namespace.
 */
export async function addMgmtLink(netns: string, link: string, a: MgmtAddress): Promise<void> {
  await ip(['link', 'del', link], true);
  await ip(['-n', netns, 'link', 'del', 'mgmt0'], true);
  await ip(['link', 'add', link, 'type', 'veth', 'peer', 'name', 'mgmt0', 'netns', netns]);
  await ip(['addr', 'add', `${a.gateway}/30`, 'dev', link]);
  await ip(['link', 'set', link, 'up']);
  await ip(['-n', netns, 'addr', 'add', `${a.address}/30`, 'dev', 'mgmt0']);
  await ip(['-n', netns, 'link', 'set', 'mgmt0', 'up']);
  await ip(['-n', netns, 'route', 'replace', 'default', 'via', a.gateway, 'dev', 'mgmt0']);
}

export interface AgentProcessOptions {
  /** The machine's namespace the agent runs in. */
  netns: string;
  id: string;
  host: string;
  port: number;
  token: string;
  machine: { systemId: string; hostname: string; devices: Device[] };
  publicKeyPem: string;
  timeScale: number;
  kernel: 'auto' | 'off';
  stateDir: string;
  ports: EmulatedPortsSpec;
  logLevel: string;
}

export interface AgentProcess {
  url: string;
  pid: number;
  mode: 'kernel' | 'emulated';
  /** SIGTERM (the agent closes its drivers), SIGKILL if it has not gone within 15 s. */
  close(): Promise<void>;
  /** Kills the agent at once, as a machine losing power would. */
  kill(): Promise<void>;
}

/**
 * Runs the production agent entry point inside a machine's network namespace, configured the
 * way cloud-init configures it on a real host (environment, a machine file, the controller's
 * key), plus the emulated ports' description. nsenter switches only the network namespace:
 * `ip netns exec` would also mount a fresh /sys and hide /sys/fs/bpf, where the agent pins its
 * programs. setpriv makes the agent die with the simulator even when the simulator is killed.
 */
export async function startAgentProcess(o: AgentProcessOptions): Promise<AgentProcess> {
  if (!NSENTER) throw new Error('nsenter (util-linux) is needed to run an agent in a machine namespace');
  await fsp.mkdir(o.stateDir, { recursive: true, mode: 0o700 });
  const files = {
    machine: join(o.stateDir, 'machine.json'),
    key: join(o.stateDir, 'controller.pub'),
    ports: join(o.stateDir, 'emulated-ports.json'),
  };
  await fsp.writeFile(files.machine, JSON.stringify(o.machine), { mode: 0o600 });
  await fsp.writeFile(files.key, o.publicKeyPem, { mode: 0o600 });
  await fsp.writeFile(files.ports, JSON.stringify(o.ports), { mode: 0o600 });
  const pass = ['PATH', 'HOME', 'LANG', 'TMPDIR', 'SWC_NODE_PROJECT', 'TS_NODE_PROJECT', 'IOPLANE_FLEET_MARKERS'];
  const env: NodeJS.ProcessEnv = Object.fromEntries(pass.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]));
  Object.assign(env, {
    AGENT_ID: o.id,
    AGENT_HOST: o.host,
    AGENT_PORT: String(o.port),
    AGENT_TOKEN: o.token,
    AGENT_PUBLIC_KEY: files.key,
    AGENT_MACHINE: files.machine,
    // The agent's own check wants a positive scale; 0 (instant) is as good as a nanosecond.
    AGENT_TIME_SCALE: String(o.timeScale > 0 ? o.timeScale : 1e-9),
    AGENT_KERNEL: o.kernel,
    AGENT_STATE_DIR: o.stateDir,
    AGENT_EMULATED_PORTS: files.ports,
    // One helper build for every agent of the simulator, not one clang run each.
    IOPLANE_XDPCTL_CACHE: process.env.IOPLANE_XDPCTL_CACHE ?? join(REPO, 'var', 'cache', 'devices'),
    LOG_LEVEL: o.logLevel,
  });
  const node = extname(AGENT_MAIN) === '.ts' ? ['-r', '@swc-node/register', AGENT_MAIN] : [AGENT_MAIN];
  const cmd = [`--net=${netnsPath(o.netns)}`, '--', ...(SETPRIV ? [SETPRIV, '--pdeathsig', 'TERM', '--'] : []), process.execPath, ...node];
  const silent = o.logLevel === 'silent';
  const child = spawn(NSENTER, cmd, { cwd: REPO, env, stdio: ['ignore', silent ? 'ignore' : 'inherit', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-4000);
    if (!silent) process.stderr.write(b);
  });
  const exited = new Promise<number | null>((ok) => child.once('exit', (code, signal) => ok(code ?? (signal ? -1 : null))));
  let gone = false;
  void exited.then(() => (gone = true));
  const url = `http://${o.host}:${o.port}`;
  // Up when its unauthenticated liveness answers; a start that fails says why on stderr and exits.
  let mode: 'kernel' | 'emulated' | null = null;
  for (let i = 0; i < 1200 && !gone && !mode; i++) {
    const h = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(
      (r) => (r.ok ? (r.json() as Promise<{ mode: 'kernel' | 'emulated' }>) : null),
      () => null,
    );
    if (h) mode = h.mode;
    else await new Promise((r) => setTimeout(r, 100));
  }
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (gone) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  if (!mode) {
    await stop('SIGKILL');
    // An uncaught error ends with its stack and Node's version: the lines that name it come first.
    const said = stderr
      .trim()
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('at ') && !l.startsWith('Node.js v'));
    throw new Error(`agent in ${o.netns} did not come up on ${url}: ${said.slice(0, 8).join(' | ').slice(0, 1500) || 'no output'}`);
  }
  return { url, pid: child.pid!, mode, close: () => stop('SIGTERM'), kill: () => stop('SIGKILL') };
}
