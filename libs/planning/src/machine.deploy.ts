import type { RawMachine } from '@ioplane/maas';

/** MAAS status codes a deployment passes through. */
const READY = 4;
const DEPLOYED = 6;
const DEPLOYING = 9;
const ALLOCATED = 10;
const FAILED_DEPLOYMENT = 11;
const RELEASING = 12;
const DISK_ERASING = 14;

export type DeployErrorCode = 'deploy_failed' | 'deploy_timeout' | 'not_deployable' | 'agent_silent' | 'no_agent_source';

/** Why a machine did not end up Deployed with its agent answering; `reason` is MAAS's own words where it gave any. */
export class DeployError extends Error {
  constructor(
    readonly code: DeployErrorCode,
    readonly systemId: string,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** What a deployment needs of MAAS: the client's calls, nothing more (a fake in unit tests). */
export interface DeployMaas {
  getMachine(systemId: string, call?: { signal?: AbortSignal }): Promise<RawMachine>;
  deploy(systemId: string, opts: { distro_series?: string; user_data?: string }, call?: { signal?: AbortSignal }): Promise<RawMachine>;
  release(systemId: string, opts?: { comment?: string }, call?: { signal?: AbortSignal }): Promise<RawMachine>;
}

export interface DeployDeps {
  maas: DeployMaas;
  /** The cloud-init user data for this machine (installs and configures its agent). */
  userData(systemId: string): string;
  /** Resolves true once the machine's agent answers with its token; false after its deadline. */
  agentAnswers(machine: RawMachine): Promise<boolean>;
  distroSeries: string;
  timeoutMs: number;
  pollMs?: number;
  signal?: AbortSignal;
  /** Progress lines for the job log ("deploying", "released after a failed deployment"...). */
  note?(line: string): void;
}

export interface DeployOutcome {
  systemId: string;
  hostname: string;
  /** false: it was already Deployed with its agent answering, nothing was asked of MAAS. */
  deployed: boolean;
  releasedFirst: boolean;
}

const failureReason = (m: RawMachine): string => {
  const described = (m as { error_description?: unknown }).error_description;
  return (typeof described === 'string' && described) || m.status_message || 'MAAS gave no reason';
};

/**
 * Brings one machine to Deployed with the ioplane agent installed by cloud-init, idempotently: a
 * retried job finds where the last attempt stopped (Deploying: wait; Deployed: done; Failed
 * deployment: release, then deploy again). A failure carries MAAS's reason.
 */
export async function deployMachine(systemId: string, deps: DeployDeps): Promise<DeployOutcome> {
  const pollMs = deps.pollMs ?? 2_000;
  const end = Date.now() + deps.timeoutMs;
  const call = { signal: deps.signal };
  const sleep = () => new Promise((r) => setTimeout(r, pollMs));
  const waitWhile = async (states: number[], what: string): Promise<RawMachine> => {
    for (;;) {
      const m = await deps.maas.getMachine(systemId, call);
      if (!states.includes(m.status)) return m;
      if (Date.now() > end)
        throw new DeployError(
          'deploy_timeout',
          systemId,
          `${what} for over ${deps.timeoutMs} ms`,
          `${m.hostname}: still ${m.status_name ?? m.status} after ${deps.timeoutMs} ms`,
        );
      deps.signal?.throwIfAborted();
      await sleep();
    }
  };

  let m = await waitWhile([RELEASING, DISK_ERASING], 'releasing');
  let releasedFirst = false;
  let deployed = false;
  if (m.status === FAILED_DEPLOYMENT) {
    deps.note?.(`${m.hostname}: last deployment failed (${failureReason(m)}); releasing it before deploying again`);
    await deps.maas.release(systemId, { comment: 'ioplane: retrying a failed deployment' }, call);
    m = await waitWhile([FAILED_DEPLOYMENT, RELEASING, DISK_ERASING], 'releasing');
    releasedFirst = true;
  }
  if (m.status === READY || m.status === ALLOCATED) {
    deps.note?.(`${m.hostname}: deploying ${deps.distroSeries} with the ioplane agent`);
    await deps.maas.deploy(
      systemId,
      { distro_series: deps.distroSeries, user_data: Buffer.from(deps.userData(systemId)).toString('base64') },
      call,
    );
    deployed = true;
    m = await waitWhile([READY, ALLOCATED, DEPLOYING], 'deploying');
  } else if (m.status === DEPLOYING) {
    m = await waitWhile([DEPLOYING], 'deploying');
  }
  if (m.status === FAILED_DEPLOYMENT) {
    const reason = failureReason(m);
    throw new DeployError('deploy_failed', systemId, reason, `MAAS failed to deploy ${m.hostname}: ${reason}`);
  }
  if (m.status !== DEPLOYED) {
    throw new DeployError(
      'not_deployable',
      systemId,
      `MAAS status ${m.status_name ?? m.status}`,
      `${m.hostname} cannot be deployed from MAAS status ${m.status_name ?? m.status}`,
    );
  }
  if (!(await deps.agentAnswers(m))) {
    throw new DeployError(
      'agent_silent',
      systemId,
      'the agent did not answer',
      `${m.hostname} is Deployed but its agent did not answer with its token (did cloud-init install it?)`,
    );
  }
  return { systemId, hostname: m.hostname, deployed, releasedFirst };
}
