import { parse } from 'yaml';
import { parseEnvFile } from '../../agent/src/agent.env';

export interface CloudInitAgentSettings {
  token: string;
  publicKeyPem: string;
  port: number;
}

export type CloudInitAgent = { ok: true; settings: CloudInitAgentSettings } | { ok: false; reason: string };

const ENV_PATH = '/etc/ioplane/agent.env';

/**
 * What cloud-init would leave on a machine deployed with this user data, as far as the agent is
 * concerned: the settings it wrote, whether it installed the agent package and enabled its unit.
 * The simulator runs the machine's agent only when all of it is there, with exactly those settings.
 */
export function agentFromUserData(userData: string | null, systemId: string): CloudInitAgent {
  if (!userData) return { ok: false, reason: 'no user_data: nothing installs the agent' };
  if (!userData.startsWith('#cloud-config')) return { ok: false, reason: 'user_data is not #cloud-config' };
  let doc: Record<string, unknown>;
  try {
    doc = (parse(userData) ?? {}) as Record<string, unknown>;
  } catch (e) {
    return { ok: false, reason: `user_data is not YAML: ${(e as Error).message}` };
  }
  const files = new Map<string, string>();
  for (const f of Array.isArray(doc.write_files) ? (doc.write_files as Array<Record<string, unknown>>) : []) {
    if (typeof f?.path === 'string' && typeof f.content === 'string') files.set(f.path, f.content);
  }
  const envText = files.get(ENV_PATH);
  if (envText === undefined) return { ok: false, reason: `write_files has no ${ENV_PATH}` };
  let env: Record<string, string>;
  try {
    env = parseEnvFile(envText, ENV_PATH);
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  if (env.AGENT_ID !== systemId)
    return { ok: false, reason: `AGENT_ID is ${env.AGENT_ID ?? 'unset'}, not this machine's system_id ${systemId}` };
  if (!env.AGENT_TOKEN) return { ok: false, reason: 'AGENT_TOKEN is unset' };
  const publicKeyPem = env.AGENT_PUBLIC_KEY ? files.get(env.AGENT_PUBLIC_KEY) : undefined;
  if (!publicKeyPem?.includes('BEGIN PUBLIC KEY'))
    return { ok: false, reason: `AGENT_PUBLIC_KEY (${env.AGENT_PUBLIC_KEY ?? 'unset'}) is not a PEM public key written by write_files` };
  const port = Number(env.AGENT_PORT ?? 9440);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { ok: false, reason: `AGENT_PORT ${env.AGENT_PORT} is not a port` };
  const commands = (Array.isArray(doc.runcmd) ? doc.runcmd : []).map((c) => (Array.isArray(c) ? c.join(' ') : String(c)));
  const packages = Array.isArray(doc.packages) ? doc.packages.map(String) : [];
  const installs = packages.includes('ioplane-agent') || commands.some((c) => /apt-get install|dpkg -i/.test(c) && /ioplane-agent/.test(c));
  if (!installs) return { ok: false, reason: 'nothing installs the ioplane-agent package (packages or runcmd)' };
  if (!commands.some((c) => /systemctl enable --now ioplane-agent(\.service)?\b/.test(c)))
    return { ok: false, reason: 'runcmd never enables and starts ioplane-agent.service' };
  return { ok: true, settings: { token: env.AGENT_TOKEN, publicKeyPem, port } };
}
