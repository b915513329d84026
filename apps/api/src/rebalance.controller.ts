import { ConflictException, Controller, Get, HttpCode, Inject, Module, NotFoundException, Param, Post, Put } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { z } from 'zod';
import type { ModuleCatalog } from '@ioplane/catalog';
import { PlacementInputError, SubmitPlacement, SubmitPlacementCommand } from '@ioplane/planning';
import { QUEUES } from '@ioplane/queue';
import { EMPTY_POLICY, Proposal, RebalancePolicy, rebalancePolicySchema } from '@ioplane/rebalance';
import { IoplaneConfig } from '@ioplane/runtime';
import {
  FLEET_REPOSITORY,
  IOPLANE_CONFIG,
  MODULE_CATALOG,
  PLACEMENT_REPOSITORY,
  ROLLOUT_REPOSITORY,
  STATE_REDIS,
} from '@ioplane/composition';
import { FleetRepository, PlacementRepository, RebalanceRepository, RolloutRepository } from '@ioplane/state';
import { RequireRole } from './auth/role.decorator';
import { ValidBody, ValidQuery, ZodPipe } from './zod.pipe';
import { Returns } from './dto/returns.decorator';
import { approved, proposal, proposalList, rejected } from './dto/rebalance.dto';

const proposalIdParam = z.string().regex(/^rb-\d+-[a-z0-9]+$/, 'must be a proposal id (rb-<window>-<systemId>)');
const listQuery = z.object({
  status: z
    .enum(['pending', 'submitted', 'rejected', 'dropped', 'failed'], { error: 'must be pending, submitted, rejected, dropped or failed' })
    .optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});
const decisionBody = z.strictObject({ note: z.string().max(500).optional() }).default({});

@ApiTags('rebalance')
@Controller('v1/rebalance')
export class RebalanceController {
  constructor(
    @Inject(RebalanceRepository) private readonly repo: RebalanceRepository,
    @Inject(PLACEMENT_REPOSITORY) placements: PlacementRepository,
    @Inject(MODULE_CATALOG) catalog: ModuleCatalog,
    @Inject(FLEET_REPOSITORY) fleet: FleetRepository,
    @Inject(ROLLOUT_REPOSITORY) rollouts: RolloutRepository,
    @InjectQueue(QUEUES.placement) queue: Queue,
  ) {
    this.submitPlacement = new SubmitPlacement({ placements, catalog, fleet, leases: rollouts, planQueue: queue });
  }

  private readonly submitPlacement: SubmitPlacement;

  @Get('proposals')
  @RequireRole('viewer')
  @ApiOperation({ summary: 'Rebalance proposals, newest first, each with its moves and reasons' })
  @Returns(proposalList)
  async list(@ValidQuery(listQuery) q: z.infer<typeof listQuery>) {
    const all = await this.repo.proposals<Proposal>(q.status ? 1000 : q.limit);
    const items = (q.status ? all.filter((p) => p.status === q.status) : all).slice(0, q.limit);
    return { count: items.length, items };
  }

  @Get('proposals/:id')
  @RequireRole('viewer')
  @Returns(proposal)
  async get(@Param('id', new ZodPipe(proposalIdParam, 'param', 'id')) id: string) {
    const p = await this.repo.proposal<Proposal>(id);
    if (!p) throw new NotFoundException({ code: 'not_found', field: 'id', message: `no proposal ${id}` });
    return p;
  }

  @Post('proposals/:id/approve')
  @RequireRole('operator')
  @HttpCode(202)
  @ApiOperation({ summary: 'Submit the proposal as a placement with reason rebalance; it rolls out through the normal pipeline' })
  @Returns(approved, { status: 202 })
  async approve(
    @Param('id', new ZodPipe(proposalIdParam, 'param', 'id')) id: string,
    @ValidBody(decisionBody) body: z.infer<typeof decisionBody>,
  ) {
    const p = await this.mustBePending(id);
    let placementId: string;
    try {
      // Stored as it was proposed: the command validates it. The plan job leases the machines, as for every placement rebalancing submits.
      const { record } = await this.submitPlacement.execute({
        request: p.request as SubmitPlacementCommand['request'],
        idempotencyKey: `rebalance.${id}`,
      });
      placementId = record.id;
    } catch (e) {
      if (e instanceof PlacementInputError)
        throw new ConflictException({ code: 'stale', field: e.field, message: `the proposal can no longer be submitted: ${e.message}` });
      throw e;
    }
    const r = await this.repo.transition<Proposal>(id, ['pending'], (x) => ({
      ...x,
      status: 'submitted',
      placementId,
      decidedAt: new Date().toISOString(),
      decidedBy: 'operator',
      note: body.note ?? null,
    }));
    if (!r.ok) throw new ConflictException({ code: 'conflict', field: 'id', message: `proposal ${id} is ${r.status} now` });
    return { id, status: r.proposal.status, placementId };
  }

  @Post('proposals/:id/reject')
  @RequireRole('operator')
  @HttpCode(200)
  @Returns(rejected)
  async reject(
    @Param('id', new ZodPipe(proposalIdParam, 'param', 'id')) id: string,
    @ValidBody(decisionBody) body: z.infer<typeof decisionBody>,
  ) {
    await this.mustBePending(id);
    const r = await this.repo.transition<Proposal>(id, ['pending'], (x) => ({
      ...x,
      status: 'rejected',
      decidedAt: new Date().toISOString(),
      decidedBy: 'operator',
      note: body.note ?? null,
    }));
    if (!r.ok) throw new ConflictException({ code: 'conflict', field: 'id', message: `proposal ${id} is ${r.status} now` });
    return { id, status: r.proposal.status };
  }

  @Get('policy')
  @RequireRole('viewer')
  @Returns(rebalancePolicySchema)
  async policy() {
    return (await this.repo.policy()) ?? EMPTY_POLICY;
  }

  @Put('policy')
  @RequireRole('admin')
  @ApiOperation({
    summary:
      'Replace the rebalance policy: rules per selector (mode off|propose|auto, margin, minGainHce, windows, cooldownWindows); first match wins',
  })
  @Returns(rebalancePolicySchema)
  async setPolicy(@ValidBody(rebalancePolicySchema) policy: RebalancePolicy) {
    await this.repo.setPolicy(policy);
    return policy;
  }

  private async mustBePending(id: string): Promise<Proposal> {
    const p = await this.repo.proposal<Proposal>(id);
    if (!p) throw new NotFoundException({ code: 'not_found', field: 'id', message: `no proposal ${id}` });
    if (p.status !== 'pending')
      throw new ConflictException({ code: 'conflict', field: 'id', message: `proposal ${id} is ${p.status}, not pending` });
    return p;
  }
}

/** The rebalance API with its repository (imported by ApiModule). */
@Module({
  controllers: [RebalanceController],
  providers: [
    {
      provide: RebalanceRepository,
      useFactory: (r: Redis, c: IoplaneConfig) => new RebalanceRepository(r, c.IOPLANE_PREFIX),
      inject: [STATE_REDIS, IOPLANE_CONFIG],
    },
  ],
})
export class RebalanceApiModule {}
