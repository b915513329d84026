import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { generateSigningKeys } from '@ioplane/agent-api';
import { bpffsRoot, removeMachine } from '@ioplane/devices';
import { bareNic, type Device } from '@ioplane/domain';
import { loadProfiles } from '@ioplane/profiles';
import { startAgent, type RunningAgent } from '../apps/agent/src';

/**
 * A kernel agent of a test file's own, on one unprofiled NIC, eth0, with no netdev: the agent makes
 * its veth pair in namespaces of its own. Every name of the run (the namespaces, the veth pair, the
 * bpffs folder) derives from the agent id, so tearDown() removes only what this run created.
 * The spec calls setUp() in its beforeAll and tearDown() in its afterAll.
 */
export class KernelAgentFixture {
  readonly agentId: string;
  readonly token = randomBytes(24).toString('hex');
  readonly keys = generateSigningKeys();
  readonly device: Device;
  /** The run's work folder (builds, the agent's state): made by setUp(). */
  work!: string;
  /** The agent start() started last. */
  agent: RunningAgent | undefined;

  /** `idPrefix` begins the agent id; the work folder is `/tmp/ioplane-<workPrefix>-XXXXXX`. */
  constructor(
    idPrefix: string,
    private readonly workPrefix: string,
  ) {
    this.agentId = `${idPrefix}-${randomBytes(3).toString('hex')}`;
    this.device = bareNic(this.agentId, 'eth0', []);
  }

  async setUp(): Promise<string> {
    this.work = await fsp.mkdtemp(`/tmp/ioplane-${this.workPrefix}-`);
    return this.work;
  }

  /** Starts the agent on the kernel, or again after close() (its state folder is the same). */
  async start(): Promise<RunningAgent> {
    this.agent = await startAgent({
      id: this.agentId,
      host: '127.0.0.1',
      port: 0,
      token: this.token,
      machine: { systemId: this.agentId, devices: [this.device] },
      profiles: loadProfiles(),
      publicKeyPem: this.keys.publicKeyPem,
      kernel: 'auto',
      stateDir: join(this.work, 'state'),
      logLevel: 'silent',
    });
    return this.agent;
  }

  /** The bpffs folder of a chain the agent runs on eth0's first port: its programs, and its maps as `m<slot>_map_<name>`. */
  chainDir(chainDigest: string): string {
    const deviceDir = createHash('sha256').update(this.device.id).digest('hex').slice(0, 12);
    return join(bpffsRoot(this.agentId), deviceDir, 'p0', 'chains', chainDigest.slice(0, 32));
  }

  /** Even when a test failed half-way: the agent, then only what this run created. */
  async tearDown(): Promise<void> {
    await this.agent?.close().catch(() => undefined);
    await removeMachine(this.agentId).catch(() => undefined);
    await fsp.rm(bpffsRoot(this.agentId), { recursive: true, force: true });
    if (this.work) await fsp.rm(this.work, { recursive: true, force: true });
  }
}

/** The catalog acl-firewall's rule key for UDP to `port`: protocol 17, a pad byte, the port in network order. */
export function aclUdpKey(port: number): string[] {
  return ['11', '00', (port >> 8).toString(16).padStart(2, '0'), (port & 0xff).toString(16).padStart(2, '0')];
}

/** bpftool arguments that add a DROP rule for UDP to `port` to the acl-firewall in slot 0 of the chain pinned at `chainDir`. */
export function aclDropUdpArgs(chainDir: string, port: number): string[] {
  const value = ['01', ...Array(15).fill('00')]; // action XDP_DROP, pad, hits 0
  return ['map', 'update', 'pinned', join(chainDir, 'm0_map_acl_rules'), 'key', 'hex', ...aclUdpKey(port), 'value', 'hex', ...value];
}
