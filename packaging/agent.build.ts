import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { bundleAgent, seaExecutable } from './agent.bundle';
import { buildDeb, lintianOverrides, type DebSpec } from './deb';

export const AGENT_PACKAGE = 'ioplane-agent';
/** The install root: the executable's folder, laid out like the repository for the files the code reads. */
export const AGENT_ROOT = 'usr/lib/ioplane-agent';

/** Repository files the agent reads at run time (profiles, the chain header, the xdpctl helper's and the flow table's sources). */
const DATA = [
  'firmware-profiles',
  'modules/include',
  'libs/devices/src/kernel/iop-xdpctl.c',
  'libs/devices/src/kernel/iop-flow-table.bpf.c',
];

/**
 * Runs on the host as the kernel driver needs: bpftool and iproute2 to load and attach, libbpf and
 * clang to build its xdpctl helper and chain roots on first use (once per version, cached in the
 * state folder), bubblewrap for the build sandbox, ethtool for NIC queues and offloads.
 */
const DEPENDS = ['iproute2', 'bpftool', 'libbpf1', 'ethtool', 'clang', 'libbpf-dev', 'bubblewrap'];

export async function buildAgentPackage(repo: string, work: string, outDir: string, version: string, arch: string): Promise<string> {
  const stage = join(work, 'agent-root');
  await fsp.rm(stage, { recursive: true, force: true });
  const root = join(stage, AGENT_ROOT);
  await fsp.mkdir(root, { recursive: true });
  const bundle = join(work, 'agent.js');
  await bundleAgent(repo, bundle);
  await seaExecutable(repo, bundle, join(root, 'ioplane-agent'));
  for (const d of DATA) {
    if (!existsSync(join(repo, d))) continue;
    await fsp.cp(join(repo, d), join(root, d), { recursive: true });
  }
  await fsp.mkdir(join(stage, 'usr/bin'), { recursive: true });
  await fsp.symlink(`../lib/ioplane-agent/ioplane-agent`, join(stage, 'usr/bin/ioplane-agent'));
  await fsp.mkdir(join(stage, 'lib/systemd/system'), { recursive: true });
  await fsp.copyFile(join(repo, 'packaging/agent/ioplane-agent.service'), join(stage, 'lib/systemd/system/ioplane-agent.service'));
  await fsp.mkdir(join(stage, 'etc/ioplane'), { recursive: true });
  // The token lives here: root only.
  await fsp.copyFile(join(repo, 'packaging/agent/agent.env'), join(stage, 'etc/ioplane/agent.env'));
  await fsp.chmod(join(stage, 'etc/ioplane/agent.env'), 0o600);
  await lintianOverrides(stage, AGENT_PACKAGE, [
    // Node.js links its own zlib into the executable, as every single executable application does.
    'embedded-library zlib [usr/lib/ioplane-agent/ioplane-agent]',
    // Node.js's own build: position-dependent, as upstream ships it.
    'hardening-no-pie [usr/lib/ioplane-agent/ioplane-agent]',
    // Holds the agent's token: root only.
    'non-standard-file-perm 0600 != 0644 [etc/ioplane/agent.env]',
  ]);
  const script = (n: string) => fsp.readFile(join(repo, 'packaging/agent', n), 'utf8');
  const spec: DebSpec = {
    name: AGENT_PACKAGE,
    version,
    arch,
    section: 'net',
    summary: 'ioplane host agent: loads, swaps and checks eBPF/XDP IO modules',
    description: `The agent of the ioplane programmable IO plane, one per host. It answers
the controller over a token-authenticated HTTP API and loads the signed XDP
modules the controller places on the host's ports, replacing them atomically
through pinned bpf_links, so the datapath keeps running while the agent
restarts or is upgraded.

A single executable (a Node.js single-executable application): the host
needs no Node.js.`,
    depends: DEPENDS,
    elves: [join(AGENT_ROOT, 'ioplane-agent')],
    conffiles: ['/etc/ioplane/agent.env'],
    scripts: { postinst: await script('postinst'), prerm: await script('prerm'), postrm: await script('postrm') },
  };
  return buildDeb(stage, spec, outDir);
}
