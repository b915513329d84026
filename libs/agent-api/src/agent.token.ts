import { createHmac } from 'node:crypto';

/**
 * The bearer token of the agent on one host: hex HMAC-SHA256 of `agent:<systemId>` under a
 * secret only the controller (and fleet-sim) hold. Deriving it means no per-host token store:
 * the worker recomputes the token of any machine it talks to. In production the token is
 * computed at deploy time and installed on the host through cloud-init user data (AGENT_TOKEN);
 * the secret itself never leaves the controller. Rotating the secret rotates every token.
 */
export function agentToken(secret: string, systemId: string): string {
  if (!secret) throw new TypeError('agentToken: secret must not be empty');
  if (!systemId) throw new TypeError('agentToken: systemId must not be empty');
  return createHmac('sha256', secret).update(`agent:${systemId}`).digest('hex');
}
