import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { bpffsRoot } from './kernel-xdp.options';

/**
 * Where one device's host XDP state lives: per port a bpffs folder (the hook's pinned link, its
 * counter map, one folder per chain) and, outside bpffs, which holds no regular files, the port's
 * chain metadata and the module objects.
 */
export class PortPaths {
  readonly root: string;

  constructor(
    agentId: string,
    deviceId: string,
    private readonly stateDir: string,
  ) {
    this.root = join(bpffsRoot(agentId), createHash('sha256').update(deviceId).digest('hex').slice(0, 12));
  }

  portDir(port: number): string {
    return join(this.root, `p${port}`);
  }
  linkPin(port: number): string {
    return join(this.portDir(port), 'link');
  }
  /** The hook's chain counters: one row per slot and one for the hook, across chain changes. */
  hookStatsPin(port: number): string {
    return join(this.portDir(port), 'chain_stats');
  }
  chainDir(port: number, digest: string): string {
    return join(this.portDir(port), 'chains', digest.slice(0, 32));
  }
  metaFile(port: number): string {
    return join(this.stateDir, `${this.root.split('/').pop()}-p${port}.json`);
  }
  objectFile(digest: string): string {
    return join(this.stateDir, 'objects', `${digest}.o`);
  }
}
