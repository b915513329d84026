import {
  ConflictException,
  Controller,
  Get,
  HttpCode,
  HttpException,
  Inject,
  Logger,
  NotFoundException,
  OnModuleDestroy,
  OnModuleInit,
  Param,
  Post,
  Res,
} from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Queue, QueueEvents } from 'bullmq';
import { z } from 'zod';
import type { ModuleCatalog } from '@ioplane/catalog';
import {
  DryRunError,
  IdempotencyConflictError,
  PlacementInputError,
  PlanValidationError,
  PlacementRequest,
  placementRequestSchema,
  QueuedDryRun,
  StoredPlan,
  SubmitPlacement,
} from '@ioplane/planning';
import { logBullErrors, QUEUES, RedisConnections } from '@ioplane/queue';
import type { MachineRecord, RolloutPlan } from '@ioplane/rollout';
import {
  FLEET_REPOSITORY,
  IOPLANE_CONFIG,
  MODULE_CATALOG,
  PLACEMENT_REPOSITORY,
  REDIS_CONNECTIONS,
  ROLLOUT_REPOSITORY,
} from '@ioplane/composition';
import type { IoplaneConfig } from '@ioplane/runtime';
import { MachineLeased } from '@ioplane/state';
import type { FleetRepository, PlacementRecord, PlacementRepository, PlacementStatus, RolloutRepository } from '@ioplane/state';
import { ValidBody, ValidHeader, ZodPipe } from './zod.pipe';
import { RequireRole } from './auth/role.decorator';
import { NoBody, Returns } from './dto/returns.decorator';
import { controlAccepted, dryRun, placementList, placementView, storedPlan, submitted } from './dto/placements.dto';

const placementId = z.string().regex(/^pl-[a-z0-9-]{1,40}$/, 'must be a placement id (pl-...)');
const idempotencyKey = z.string().regex(/^[A-Za-z0-9._-]{8,128}$/, 'must be 8-128 letters, digits, dot, dash or underscore');

interface StatusSetter {
  status(code: number): unknown;
}

@ApiTags('placements')
@Controller('v1/placements')
export class PlacementsController implements OnModuleInit, OnModuleDestroy {
  constructor(
    @Inject(FLEET_REPOSITORY) private readonly fleet: FleetRepository,
    @Inject(PLACEMENT_REPOSITORY) private readonly placements: PlacementRepository,
    @Inject(MODULE_CATALOG) catalog: ModuleCatalog,
    @InjectQueue(QUEUES.placement) queue: Queue,
    @InjectQueue(QUEUES.dryRun) private readonly dryRunQueue: Queue,
    @Inject(ROLLOUT_REPOSITORY) private readonly rollouts: RolloutRepository,
    @Inject(IOPLANE_CONFIG) private readonly config: IoplaneConfig,
    @Inject(REDIS_CONNECTIONS) private readonly connections: RedisConnections,
  ) {
    this.submitPlacement = new SubmitPlacement({ placements, catalog, fleet, leases: rollouts, planQueue: queue });
  }

  private readonly log = new Logger(PlacementsController.name);
  private readonly submitPlacement: SubmitPlacement;
  private dryRunEvents: QueueEvents | null = null;
  private dryRun: QueuedDryRun<QueueEvents> | null = null;

  /** Dry-run answers arrive as queue events: one subscription per API process, on a connection that may block. */
  onModuleInit(): void {
    // The worker role's connection: BullMQ refuses to block on the producer's (maxRetriesPerRequest 3),
    // and QueueEvents duplicates a cluster client it is given, so the shared one stays the owner's.
    const connection = this.connections.queue('worker');
    this.dryRunEvents = logBullErrors(
      new QueueEvents(QUEUES.dryRun, { connection, prefix: this.dryRunQueue.opts.prefix }),
      `queue-events ${QUEUES.dryRun}`,
      (f, m) => this.log.warn(f, m),
    );
    this.dryRun = new QueuedDryRun({ queue: this.dryRunQueue, events: this.dryRunEvents, deadlineMs: this.config.DRY_RUN_DEADLINE_MS });
  }

  async onModuleDestroy(): Promise<void> {
    await this.dryRunEvents?.close().catch(() => undefined);
  }

  @Post()
  @RequireRole('operator')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Plan modules onto machines. dryRun returns the plan; otherwise the placement is stored and queued, and leases the machines its selector takes until its rollout ends. ' +
      'A placement touching a machine another unfinished placement leases is refused (409 machine_leased, naming the machines and the placement holding them), not queued behind it: submit it again once that one ended.',
  })
  @Returns(submitted, { status: 202, description: 'stored and queued (200 with created: false for a repeated Idempotency-Key)' })
  @Returns(z.union([dryRun, submitted]), {
    status: 200,
    description: 'dryRun: the plan, nothing stored; or the placement an Idempotency-Key already names',
  })
  async submit(
    @ValidHeader('Idempotency-Key', idempotencyKey.optional(), 'resubmitting with the same key returns the same placement')
    key: string | undefined,
    @ValidBody(placementRequestSchema) req: PlacementRequest,
    @Res({ passthrough: true }) res: StatusSetter,
  ) {
    if (req.dryRun) {
      res.status(200);
      // Planned by a worker (the dry-run queue): the API process never runs a solver.
      const plan = await this.guard(() => this.dryRun!.execute({ request: req }));
      return { dryRun: true, plan };
    }
    // Leased at submission: a placement touching another's machines is refused now, not after queueing.
    const { record, created } = await this.guard(() =>
      this.submitPlacement.execute({ request: req, idempotencyKey: key ?? null, leaseNow: true }),
    );
    if (!created) {
      res.status(200);
      return { id: record.id, status: record.status, created: false };
    }
    return { id: record.id, status: record.status, created: true };
  }

  @Get()
  @RequireRole('viewer')
  @Returns(placementList)
  async list() {
    const items = await this.placements.list(100);
    return { count: items.length, items };
  }

  @Get(':id')
  @RequireRole('viewer')
  @Returns(placementView, { description: 'the placement, its plan summary and each machine of its rollout' })
  async get(@Param('id', new ZodPipe(placementId, 'param', 'id')) id: string) {
    const rec = await this.mustGet(id);
    const plan = await this.placements.getPlan<StoredPlan>(id);
    const rollout = await this.rollouts.getRolloutPlan<RolloutPlan>(id);
    const machines = rollout
      ? (await this.rollouts.machines<MachineRecord>(id)).sort((a, b) => a.wave - b.wave || a.hostname.localeCompare(b.hostname))
      : [];
    const counts: Record<string, number> = {};
    for (const m of machines)
      counts[m.verifiedAt && m.state === 'verifying' ? 'verified' : m.state] =
        (counts[m.verifiedAt && m.state === 'verifying' ? 'verified' : m.state] ?? 0) + 1;
    const done = machines.filter((m) => ['committed', 'rolled-back', 'failed', 'cancelled'].includes(m.state)).length;
    return {
      ...rec,
      control: rollout ? await this.rollouts.control(id) : null,
      plan: plan && {
        complete: plan.complete,
        machines: plan.machines.length,
        infeasibleMachines: plan.stats.infeasibleMachines,
        skipped: plan.skipped.length,
      },
      rollout: rollout && {
        waves: rollout.waves.map((w) => ({ index: w.index, machines: w.machines.length })),
        progress: machines.length ? Math.round((100 * done) / machines.length) : 0,
        counts,
        machines,
      },
    };
  }

  @Post(':id/cancel')
  @RequireRole('operator')
  @HttpCode(202)
  @ApiOperation({ summary: 'Stop the rollout: machines in flight roll back, pending ones are left untouched' })
  @Returns(controlAccepted, { status: 202 })
  @NoBody()
  cancel(@Param('id', new ZodPipe(placementId, 'param', 'id')) id: string) {
    return this.control(id, 'cancel', ['queued', 'planning', 'planned', 'rolling-out', 'paused']);
  }

  @Post(':id/pause')
  @RequireRole('operator')
  @HttpCode(202)
  @Returns(controlAccepted, { status: 202 })
  @NoBody()
  pause(@Param('id', new ZodPipe(placementId, 'param', 'id')) id: string) {
    return this.control(id, 'pause', ['queued', 'planning', 'planned', 'rolling-out']);
  }

  @Post(':id/resume')
  @RequireRole('operator')
  @HttpCode(202)
  @Returns(controlAccepted, { status: 202 })
  @NoBody()
  resume(@Param('id', new ZodPipe(placementId, 'param', 'id')) id: string) {
    return this.control(id, 'run', ['paused', 'rolling-out', 'queued', 'planning', 'planned']);
  }

  @Post(':id/rollback')
  @RequireRole('operator')
  @HttpCode(202)
  @ApiOperation({ summary: 'Roll the whole job back: the running wave and the committed machines' })
  @Returns(controlAccepted, { status: 202 })
  @NoBody()
  rollback(@Param('id', new ZodPipe(placementId, 'param', 'id')) id: string) {
    return this.control(id, 'rollback', ['rolling-out', 'paused']);
  }

  private async control(id: string, control: 'run' | 'pause' | 'cancel' | 'rollback', allowed: PlacementStatus[]) {
    const rec = await this.mustGet(id);
    if (!allowed.includes(rec.status)) {
      throw new ConflictException({
        code: 'conflict',
        field: 'id',
        message: `placement ${id} is ${rec.status}; ${control} applies only when ${allowed.join(', ')}`,
      });
    }
    await this.rollouts.setControl(id, control);
    if (control === 'pause') await this.placements.setStatus(id, 'paused');
    if (control === 'run' && rec.status === 'paused') await this.placements.setStatus(id, 'rolling-out');
    // Cancel before the rollout started: nothing ran, so the placement simply ends.
    if (control === 'cancel' && ['queued', 'planning', 'planned'].includes(rec.status)) await this.placements.setStatus(id, 'cancelled');
    return { id, control };
  }

  @Get(':id/plan')
  @RequireRole('viewer')
  @Returns(storedPlan, { description: "every machine's paths and hops in packet order, with the reasons" })
  async plan(@Param('id', new ZodPipe(placementId, 'param', 'id')) id: string) {
    await this.mustGet(id);
    const plan = await this.placements.getPlan<StoredPlan>(id);
    if (!plan) throw new NotFoundException({ code: 'not_ready', field: 'id', message: `placement ${id} has no plan yet` });
    return plan;
  }

  private async mustGet(id: string): Promise<PlacementRecord> {
    const rec = await this.placements.get(id);
    if (!rec) throw new NotFoundException({ code: 'not_found', field: 'id', message: `no placement ${id}` });
    return rec;
  }

  /** 409 naming each machine (hostname and system id) and the placement leasing it. */
  private async leased(e: MachineLeased): Promise<HttpException> {
    const host = new Map((await this.fleet.listMachines()).map((m) => [m.systemId, m.hostname]));
    const leased = e.held.map((h) => ({
      placementId: h.owner,
      machines: h.machines.map((id) => ({ systemId: id, hostname: host.get(id) ?? id })),
    }));
    const message = leased
      .map(
        (h) =>
          `${h.machines.map((m) => m.hostname).join(', ')} ${h.machines.length > 1 ? 'are' : 'is'} leased by placement ${h.placementId} until its rollout ends`,
      )
      .join('; ');
    return new HttpException({ code: e.code, field: 'selector', message: `${message}: submit again once it ended`, leased }, 409);
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof IdempotencyConflictError) throw new HttpException({ code: e.code, field: e.field, message: e.message }, 409);
      if (e instanceof MachineLeased) throw await this.leased(e);
      if (e instanceof PlacementInputError)
        throw new HttpException({ code: e.code, field: e.field, message: e.message }, e.code === 'not_found' ? 404 : 422);
      // A solver bug, not the caller's: the plan is neither returned nor stored, and the rules it broke are named.
      if (e instanceof PlanValidationError)
        throw new HttpException({ code: e.code, message: e.message, violations: e.violations.slice(0, 20) }, 500);
      if (e instanceof DryRunError) throw new HttpException({ code: e.code, message: e.message }, e.code === 'dry_run_timeout' ? 503 : 500);
      throw e;
    }
  }
}
