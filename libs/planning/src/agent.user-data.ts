import { stringify } from 'yaml';

/** Where a deployed machine gets the agent package: a .deb URL (the controller serves one) or an apt source. */
export type AgentPackageSource = { packageUrl: string } | { aptSource: string };

export interface AgentUserDataInput {
  systemId: string;
  /** The host's agent token: agentToken(secret, systemId). */
  token: string;
  /** The controller's ed25519 public key (SPKI PEM): the agent runs only what it signed. */
  publicKeyPem: string;
  agentPort: number;
  source: AgentPackageSource;
}

export const AGENT_ENV_PATH = '/etc/ioplane/agent.env';
export const CONTROLLER_KEY_PATH = '/etc/ioplane/controller.pub';

/**
 * The cloud-init user data MAAS hands a machine it deploys for ioplane: it writes the agent's
 * settings (token in a root-only file) and the controller's key, installs the agent package, and
 * enables its unit. write_files runs before packages and runcmd, so the package's own agent.env
 * meets cloud-init's and keeps it (apt's --force-confold, cloud-init's default for packages).
 */
export function agentUserData(i: AgentUserDataInput): string {
  const env = [
    `AGENT_ID=${i.systemId}`,
    `AGENT_TOKEN=${i.token}`,
    `AGENT_PUBLIC_KEY=${CONTROLLER_KEY_PATH}`,
    'AGENT_HOST=0.0.0.0',
    `AGENT_PORT=${i.agentPort}`,
    '',
  ].join('\n');
  const doc: Record<string, unknown> = {
    write_files: [
      { path: AGENT_ENV_PATH, owner: 'root:root', permissions: '0600', content: env },
      { path: CONTROLLER_KEY_PATH, owner: 'root:root', permissions: '0644', content: i.publicKeyPem },
    ],
  };
  const enable = ['systemctl', 'enable', '--now', 'ioplane-agent.service'];
  if ('aptSource' in i.source) {
    doc.apt = { sources: { ioplane: { source: i.source.aptSource } } };
    doc.packages = ['ioplane-agent'];
    doc.runcmd = [enable];
  } else {
    const install =
      'curl -fsSL --retry 5 -o /run/ioplane-agent.deb "$1" && DEBIAN_FRONTEND=noninteractive apt-get install -y -o Dpkg::Options::=--force-confold /run/ioplane-agent.deb';
    doc.runcmd = [['sh', '-c', install, 'install-ioplane-agent', i.source.packageUrl], enable];
  }
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}
