import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { MachineTopology, PortPath } from '@ioplane/devices';
import { netnsPath } from '@ioplane/devices';

/**
 * The most a sender may offer, pps. Real packets cross veth pairs and real XDP on a machine
 * shared with the whole stack: a few thousand per second are plenty to drive the agents'
 * counters, and more would only steal the cores the test measures on.
 */
export const MAX_WIRE_PPS = 5_000;
/** The most packets one burst may carry (ten minutes at a hundred per second is plenty). */
export const MAX_BURST_PACKETS = 100_000;
/** UDP discard, the wire probe's port: every hop's chain sees it, nothing in the host answers it but an ICMP error. */
export const WIRE_UDP_PORT = 9;

const NSENTER = ['/usr/bin/nsenter', '/bin/nsenter', '/usr/sbin/nsenter'].find((p) => existsSync(p));

/** Why the simulator refused or failed to send; `field` names the request part it points at. */
export class WireTrafficError extends Error {
  override readonly name = 'WireTrafficError';
  constructor(
    readonly code: 'not_packet_true' | 'unknown_port' | 'invalid_rate' | 'sender_failed',
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

export interface BurstResult {
  /** Packets the sender handed to the kernel without an error. */
  sent: number;
  failed: number;
  /** How long sending took, ms (paced at the asked pps, so about packets / pps). */
  ms: number;
}

export interface SteadySender {
  systemId: string;
  interface: string;
  pps: number;
  startedAt: string;
}

/**
 * Paced UDP in a machine's wire namespace, run as a process of its own there (as traffic from
 * another machine would be). It keeps the asked rate on average by sending, every 5 ms, what is
 * due since it started: a slow tick on a busy machine sends a few more packets at once, never
 * fewer in total. With a count it stops after exactly that many and prints what it sent; without
 * one it runs until SIGTERM and prints then.
 */
const SENDER = `
const s = require('dgram').createSocket('udp4');
const [host, port, total, pps] = [process.argv[1], +process.argv[2], +process.argv[3], +process.argv[4]];
const buf = Buffer.alloc(64);
const t0 = process.hrtime.bigint();
let queued = 0, done = 0, failed = 0, over = false;
const finish = () => {
  if (over) return;
  over = true;
  process.stdout.write(JSON.stringify({ sent: done - failed, failed, ms: Number(process.hrtime.bigint() - t0) / 1e6 }) + '\\n');
  s.close();
};
const tick = () => {
  const due = Math.floor((Number(process.hrtime.bigint() - t0) / 1e9) * pps) + 1;
  const upTo = total >= 0 ? Math.min(due, total) : due;
  while (queued < upTo) {
    queued++;
    s.send(buf, port, host, (e) => {
      done++;
      if (e) failed++;
      if (total >= 0 && done === total) finish();
    });
  }
  if (total < 0 || queued < total) setTimeout(tick, 5);
};
process.on('SIGTERM', () => { finish(); process.exit(0); });
if (total === 0) finish(); else tick();
`;

function spawnSender(port: PortPath, packets: number, pps: number): ChildProcess {
  const wire = port.hops[0];
  if (wire?.kind !== 'wire') throw new WireTrafficError('unknown_port', `${port.interface} has no wire namespace`, 'interface');
  const args = [process.execPath, '-e', SENDER, port.hostAddress, String(WIRE_UDP_PORT), String(packets), String(pps)];
  // nsenter switches the network namespace only; `ip netns exec` would remount /sys for nothing.
  return NSENTER
    ? spawn(NSENTER, [`--net=${netnsPath(wire.netns)}`, '--', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn('ip', ['netns', 'exec', wire.netns, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

function checkRate(pps: unknown): number {
  if (typeof pps !== 'number' || !Number.isFinite(pps) || pps <= 0 || pps > MAX_WIRE_PPS) {
    throw new WireTrafficError(
      'invalid_rate',
      `pps must be a number above 0 and at most ${MAX_WIRE_PPS}, got ${JSON.stringify(pps)}`,
      'pps',
    );
  }
  return pps;
}

/**
 * Real traffic into the emulated machines' ports, from their wire namespaces: what the agents'
 * XDP counters see, hop by hop, exactly as they see the health check's probe. A burst sends an
 * exact number of packets and answers when they are sent, so a test can make a telemetry window
 * of a known packet count; a steady sender runs until stopped, for a replay or a demo.
 */
export class WireTraffic {
  private readonly steady = new Map<string, { info: SteadySender; child: ChildProcess }>();
  private readonly bursts = new Set<ChildProcess>();

  constructor(private readonly topology: (systemId: string) => MachineTopology | null) {}

  private portOf(systemId: string, iface: string): PortPath {
    const t = this.topology(systemId);
    if (!t)
      throw new WireTrafficError(
        'not_packet_true',
        `machine ${systemId} has no emulated network (not a packet-true host, or its agent is not running)`,
        'systemId',
      );
    const port = t.ports.find((p) => p.interface === iface);
    if (!port)
      throw new WireTrafficError(
        'unknown_port',
        `${t.hostname} has no port ${iface}; it has ${t.ports.map((p) => p.interface).join(', ')}`,
        'interface',
      );
    return port;
  }

  /** Sends exactly `packets` at `pps` into the port's wire; resolves once they are sent. */
  async burst(systemId: string, iface: string, packets: number, pps: number): Promise<BurstResult> {
    if (!Number.isInteger(packets) || packets < 0 || packets > MAX_BURST_PACKETS) {
      throw new WireTrafficError(
        'invalid_rate',
        `packets must be an integer from 0 to ${MAX_BURST_PACKETS}, got ${JSON.stringify(packets)}`,
        'packets',
      );
    }
    const child = spawnSender(this.portOf(systemId, iface), packets, checkRate(pps));
    this.bursts.add(child);
    try {
      const { code, stdout, stderr } = await collect(child);
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{'))
        throw new WireTrafficError(
          'sender_failed',
          `sender into ${iface} exited ${code}: ${stderr.trim().split('\n').pop() ?? 'no output'}`,
          'interface',
        );
      return JSON.parse(last) as BurstResult;
    } finally {
      this.bursts.delete(child);
    }
  }

  /** Starts a sender at `pps` into the port, replacing the one running there. */
  async start(systemId: string, iface: string, pps: number): Promise<SteadySender> {
    const port = this.portOf(systemId, iface);
    checkRate(pps);
    await this.stop(systemId, iface);
    const child = spawnSender(port, -1, pps);
    const info: SteadySender = { systemId, interface: iface, pps, startedAt: new Date().toISOString() };
    const key = `${systemId}/${iface}`;
    this.steady.set(key, { info, child });
    child.once('exit', () => {
      if (this.steady.get(key)?.child === child) this.steady.delete(key);
    });
    child.stdout!.resume();
    child.stderr!.resume();
    return info;
  }

  /** Stops the steady sender of one port, of one machine (no interface) or all of them (nothing). */
  async stop(systemId?: string, iface?: string): Promise<number> {
    const doomed = [...this.steady.entries()].filter(
      ([, s]) => (!systemId || s.info.systemId === systemId) && (!iface || s.info.interface === iface),
    );
    for (const [key] of doomed) this.steady.delete(key);
    await Promise.all(doomed.map(([, s]) => terminate(s.child)));
    return doomed.length;
  }

  /** The interfaces a machine's wire reaches (its ingress ports); empty when it is not packet-true. */
  ports(systemId: string): string[] {
    return this.topology(systemId)?.ports.map((p) => p.interface) ?? [];
  }

  running(): SteadySender[] {
    return [...this.steady.values()].map((s) => s.info);
  }

  /** Stops every sender, steady and burst. */
  async close(): Promise<void> {
    await this.stop();
    await Promise.all([...this.bursts].map(terminate));
  }
}

function collect(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  return new Promise((ok) => {
    child.once('error', (e) => ok({ code: -1, stdout, stderr: e.message }));
    child.once('close', (code) => ok({ code, stdout, stderr }));
  });
}

function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((ok) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      ok();
    });
    child.kill('SIGTERM');
  });
}
