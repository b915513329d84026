import { Inject, Logger } from '@nestjs/common';
import { InjectQueue, OnWorkerEvent, Processor } from '@nestjs/bullmq';
import { metrics } from '@ioplane/metrics';
import { Job, Queue, UnrecoverableError } from 'bullmq';
import type { FirmwareProfile } from '@ioplane/domain';
import { InventorySync, InventorySyncResult, watchMaasEvents, EventWatchResult } from '@ioplane/inventory';
import { MaasClient, MaasError, MaasUnavailableError } from '@ioplane/maas';
import { addJob, jobs, fleetDeployPayload, fleetSyncPayload, JOBS, OnJob, QUEUES, errorLogger, closeEvenWhenDown } from '@ioplane/queue';
import { IoplaneConfig } from '@ioplane/runtime';
import {
  CONTROLLER_KEYS,
  FLEET_REPOSITORY,
  IOPLANE_CONFIG,
  MODULE_CATALOG,
  PLACEMENT_REPOSITORY,
  PROFILES,
  ROLLOUT_REPOSITORY,
} from '@ioplane/composition';
import type { ModuleCatalog } from '@ioplane/catalog';
import {
  agentUserData,
  deployMachine,
  DeployError,
  desiredPlacementFor,
  provisioningRequest,
  SubmitPlacement,
  type DeployOutcome,
} from '@ioplane/planning';
import { agentToken, AgentClient } from '@ioplane/agent-api';
import { createPublicKey } from 'node:crypto';
import type { FleetRepository, PlacementRepository, RolloutRepository } from '@ioplane/state';
import { MAAS_CLIENT } from './worker.tokens';
import { JobProcessor } from './job.processor';

@Processor(QUEUES.fleet, { concurrency: 2, lockDuration: 120_000 })
export class FleetProcessor extends JobProcessor {
  private readonly log = new Logger(FleetProcessor.name);

  constructor(
    @Inject(MAAS_CLIENT) private readonly maas: MaasClient,
    @Inject(PROFILES) private readonly profiles: FirmwareProfile[],
    @Inject(FLEET_REPOSITORY) private readonly repo: FleetRepository,
    @InjectQueue(QUEUES.fleet) private readonly queue: Queue,
    @Inject(IOPLANE_CONFIG) private readonly config: IoplaneConfig,
    @Inject(PLACEMENT_REPOSITORY) private readonly placements: PlacementRepository,
    @Inject(ROLLOUT_REPOSITORY) private readonly rollouts: RolloutRepository,
    @Inject(MODULE_CATALOG) private readonly catalog: ModuleCatalog,
    @InjectQueue(QUEUES.placement) private readonly placementQueue: Queue,
    @Inject(CONTROLLER_KEYS) private readonly keys: { privateKeyPem: string; agentTokenSecret: string },
  ) {
    super();
    this.submitPlacement = new SubmitPlacement({ placements, catalog, fleet: repo, leases: rollouts, planQueue: placementQueue });
  }

  private readonly submitPlacement: SubmitPlacement;

  /** Whether a host's agent answers an authenticated call with its token, polled until `ms` passes. */
  private async agentAnswers(systemId: string, address: string | undefined, ms: number): Promise<boolean> {
    if (!address) return false;
    const client = new AgentClient(`http://${address}:${this.config.AGENT_PORT}`, agentToken(this.keys.agentTokenSecret, systemId), {
      timeoutMs: 5_000,
    });
    const end = Date.now() + ms;
    for (;;) {
      if (
        await client.inventory().then(
          () => true,
          () => false,
        )
      )
        return true;
      if (Date.now() > end) return false;
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /**
   * Deploys one machine through MAAS with cloud-init that installs its agent, waits for Deployed
   * and the agent's answer, then syncs it so provisioning places what its selector asks. A failed
   * deployment fails the job with MAAS's reason; BullMQ retries it per the request's policy.
   */
  @OnJob(JOBS.fleetDeploy)
  async deploy(job: Job): Promise<DeployOutcome> {
    const { systemId } = fleetDeployPayload.parse(job.data);
    const c = this.config;
    const source = c.IOPLANE_AGENT_PACKAGE_URL
      ? { packageUrl: c.IOPLANE_AGENT_PACKAGE_URL }
      : c.IOPLANE_AGENT_APT_SOURCE
        ? { aptSource: c.IOPLANE_AGENT_APT_SOURCE }
        : null;
    if (!source)
      throw new DeployError(
        'no_agent_source',
        systemId,
        'no agent package source',
        'set IOPLANE_AGENT_PACKAGE_URL (a .deb URL machines reach) or IOPLANE_AGENT_APT_SOURCE to deploy machines with the agent',
      );
    const publicKeyPem = createPublicKey(this.keys.privateKeyPem).export({ type: 'spki', format: 'pem' }).toString();
    try {
      const outcome = await deployMachine(systemId, {
        maas: this.maas,
        userData: (id) =>
          agentUserData({ systemId: id, token: agentToken(this.keys.agentTokenSecret, id), publicKeyPem, agentPort: c.AGENT_PORT, source }),
        agentAnswers: (m) => this.agentAnswers(systemId, m.ip_addresses?.[0], 120_000),
        distroSeries: c.IOPLANE_DEPLOY_DISTRO,
        timeoutMs: c.IOPLANE_DEPLOY_TIMEOUT_MS,
        pollMs: Math.min(2_000, c.MAAS_EVENTS_INTERVAL_MS),
        note: (line) => void job.log(line).catch(() => undefined),
      });
      this.log.log({ systemId, hostname: outcome.hostname, attempt: job.attemptsMade + 1 }, 'machine deployed with its agent answering');
      // Its agent answers now: sync it and let provisioning place what its selector asks.
      await addJob(this.queue, jobs.fleetSync({ reason: 'maas-event', systemIds: [systemId] }));
      return outcome;
    } catch (e) {
      if (e instanceof DeployError)
        this.log.warn(
          { systemId, code: e.code, reason: e.reason, attempt: job.attemptsMade + 1, attempts: job.opts.attempts ?? 1 },
          'deployment failed',
        );
      throw e;
    }
  }

  /**
   * MAAS-driven provisioning: a machine that reached Deployed follows the newest placement whose
   * selector takes it, without an operator. The idempotency key makes a re-run of this job a no-op.
   */
  private async provision(systemIds: string[]): Promise<string[]> {
    const started: string[] = [];
    const placements = await this.placements.list(200);
    for (const id of systemIds) {
      const m = await this.repo.getMachine(id);
      if (!m || m.isDpu || m.status !== 6) continue;
      const desired = desiredPlacementFor(m, placements);
      if (!desired || (await this.rollouts.observed(id))?.placementId === desired.id) continue;
      // Deployed is not yet running: cloud-init installs the agent after the first boot. A machine
      // whose agent is silent is left for the sync its deploy job queues once the agent answers.
      if (!(await this.agentAnswers(id, m.agentUrl ? new URL(m.agentUrl).hostname : undefined, 0))) {
        this.log.log({ systemId: id, hostname: m.hostname }, 'provisioning waits: the agent does not answer yet');
        continue;
      }
      try {
        const { record } = await this.submitPlacement.execute({
          request: provisioningRequest(desired, m),
          idempotencyKey: `prov.${desired.id}.${id}`,
        });
        started.push(record.id);
        this.log.log(
          { systemId: id, hostname: m.hostname, follows: desired.id, placementId: record.id },
          'provisioning: machine follows its selector',
        );
      } catch (e) {
        this.log.warn({ systemId: id, follows: desired.id, err: (e as Error).message }, 'provisioning placement refused');
      }
    }
    return started;
  }

  @OnJob(JOBS.fleetSync)
  async fleetSync(job: Job): Promise<InventorySyncResult & { provisioning: string[] }> {
    const payload = fleetSyncPayload.parse(job.data);
    const sync = new InventorySync(this.maas, this.profiles, this.repo, this.config.AGENT_PORT);
    const result = await sync
      .run({
        onProgress: (p) =>
          job.updateProgress({ stage: p.stage, done: p.done, total: p.total, percent: progressPercent(p.stage, p.done, p.total) }),
      })
      .catch((e: unknown) => {
        // Only an unavailable MAAS is worth the job's next attempt; a refused key or a bad answer stays refused.
        if (e instanceof MaasError && !(e instanceof MaasUnavailableError)) throw new UnrecoverableError(e.message);
        throw e;
      });
    this.log.log({ jobId: job.id, reason: payload.reason, ...result }, 'fleet synced');
    const provisioning = payload.reason === 'maas-event' ? await this.provision(payload.systemIds) : [];
    return { ...result, provisioning };
  }

  @OnJob(JOBS.maasEvents)
  async maasEvents(): Promise<EventWatchResult> {
    const result = await watchMaasEvents(this.maas, this.repo);
    if (result.deployed.length) {
      await addJob(this.queue, jobs.fleetSync({ reason: 'maas-event', systemIds: result.deployed }));
      this.log.log({ deployed: result.deployed }, 'machines reached Deployed: fleet sync queued');
    }
    return result;
  }

  private readonly redisError = errorLogger('worker fleet', (f, m) => this.log.warn(f, m));

  /** A Redis error of this worker's connections, logged through pino (see errorLogger). */
  @OnWorkerEvent('error')
  onError(err: Error): void {
    this.redisError(err);
  }

  /** Set up once @nestjs/bullmq made the worker: a shutdown during a Redis outage must still end. */
  onApplicationBootstrap(): void {
    closeEvenWhenDown(this.worker, 'worker fleet', (f, m) => this.log.warn(f, m));
  }

  @OnWorkerEvent('completed')
  onCompleted(job: Job): void {
    metrics.observeJob(QUEUES.fleet, job, 'completed');
  }

  @OnWorkerEvent('failed')
  onFailed(job: Job | undefined, err: Error): void {
    if (job) metrics.observeJob(QUEUES.fleet, job, 'failed');
    this.log.warn({ jobId: job?.id, job: job?.name, attemptsMade: job?.attemptsMade, err: err.message }, 'job failed');
  }
}

const STAGE_WEIGHT = { list: [0, 10], devices: [10, 90], write: [90, 100] } as const;
function progressPercent(stage: keyof typeof STAGE_WEIGHT, done: number, total: number): number {
  const [from, to] = STAGE_WEIGHT[stage];
  return Math.round(from + ((to - from) * done) / Math.max(total, 1));
}
