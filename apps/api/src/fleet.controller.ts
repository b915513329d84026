import { ConflictException, Controller, Get, HttpCode, Inject, NotFoundException, Param, Post } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { randomUUID } from 'node:crypto';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Queue } from 'bullmq';
import { z } from 'zod';
import { FLEET_SYNC_JOB_OPTIONS, fleetDeployJobOptions, fleetSyncPayload, FleetSyncPayload, JOBS, QUEUES } from '@ioplane/queue';
import { FLEET_REPOSITORY } from '@ioplane/composition';
import type { FleetRepository } from '@ioplane/state';
import { ValidBody, ValidQuery, ZodPipe } from './zod.pipe';
import { RequireRole } from './auth/role.decorator';
import { Returns } from './dto/returns.decorator';
import { deployQueued, fleetList, fleetMachine, syncQueued } from './dto/fleet.dto';

const name = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, dot, dash or underscore');
const fleetQuery = z.object({
  zone: name.optional(),
  pool: name.optional(),
  tag: name.optional(),
  includeDpus: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .optional()
    .describe('also list DPUs as machines (they always appear as devices of their host)'),
});
type FleetQuery = z.infer<typeof fleetQuery>;
const systemId = z.string().regex(/^[a-z0-9]{1,32}$/, 'must be a MAAS system_id (lowercase letters and digits)');
const syncBody = fleetSyncPayload.omit({ reason: true }).strict();
const deployBody = z.strictObject({
  /** Hostnames or system_ids. */
  machines: z.array(name).min(1, 'must name at least one machine'),
  /** How often a failed deployment is retried (each attempt releases the machine first). */
  retries: z.int().min(0).max(10).default(2),
});
type DeployBody = z.infer<typeof deployBody>;
/** Ready, Allocated, Failed deployment: MAAS deploys them; Deployed: the job only checks the agent answers. */
const DEPLOYABLE = new Set([4, 6, 10, 11]);

@ApiTags('fleet')
@Controller('v1/fleet')
export class FleetController {
  constructor(
    @Inject(FLEET_REPOSITORY) private readonly repo: FleetRepository,
    @InjectQueue(QUEUES.fleet) private readonly queue: Queue,
  ) {}

  @Get('machines')
  @RequireRole('viewer')
  @ApiOperation({ summary: 'Machines with their devices and matched firmware profiles, as last synced from MAAS' })
  @Returns(fleetList)
  async list(@ValidQuery(fleetQuery) q: FleetQuery) {
    const [meta, machines] = await Promise.all([this.repo.meta(), this.repo.listMachines(q)]);
    const items = q.includeDpus === 'true' ? machines : machines.filter((m) => !m.isDpu);
    return { generation: meta.generation, syncedAt: meta.syncedAt, count: items.length, items };
  }

  @Get('machines/:systemId')
  @RequireRole('viewer')
  @ApiParam({ name: 'systemId' })
  @Returns(fleetMachine)
  async get(@Param('systemId', new ZodPipe(systemId, 'param', 'systemId')) id: string) {
    const m = await this.repo.getMachine(id);
    if (!m) throw new NotFoundException({ code: 'not_found', field: 'systemId', message: `no machine ${id} in the inventory` });
    return m;
  }

  @Post('sync')
  @RequireRole('operator')
  @HttpCode(202)
  @ApiOperation({ summary: 'Queue a fleet sync from MAAS now' })
  @Returns(syncQueued, { status: 202 })
  async sync(@ValidBody(syncBody) body: Omit<FleetSyncPayload, 'reason'>) {
    const data: FleetSyncPayload = { reason: 'manual', systemIds: body.systemIds ?? [] };
    const job = await this.queue.add(JOBS.fleetSync, data, FLEET_SYNC_JOB_OPTIONS);
    return { jobId: job.id, queue: QUEUES.fleet, name: JOBS.fleetSync };
  }

  @Post('deploy')
  @RequireRole('operator')
  @HttpCode(202)
  @ApiOperation({ summary: 'Have MAAS deploy machines with cloud-init that installs the ioplane agent; one job per machine' })
  @Returns(deployQueued, { status: 202 })
  async deploy(@ValidBody(deployBody) body: DeployBody) {
    const all = (await this.repo.listMachines()).filter((m) => !m.isDpu);
    const machines = body.machines.map((key, i) => {
      const m = all.find((x) => x.systemId === key || x.hostname === key);
      if (!m)
        throw new NotFoundException({
          code: 'not_found',
          field: `machines.${i}`,
          message: `no host ${key} in the inventory (run a fleet sync?)`,
        });
      if (!DEPLOYABLE.has(m.status))
        throw new ConflictException({
          code: 'not_deployable',
          field: `machines.${i}`,
          message: `${m.hostname} is ${m.statusName} in MAAS: only Ready, Allocated or Failed deployment machines can be deployed`,
        });
      return m;
    });
    const jobs = [];
    const requestId = randomUUID().slice(0, 8);
    for (const m of machines) {
      const job = await this.queue.add(
        JOBS.fleetDeploy,
        { systemId: m.systemId, requestedBy: 'api' },
        fleetDeployJobOptions(m.systemId, body.retries, requestId),
      );
      jobs.push({ systemId: m.systemId, hostname: m.hostname, jobId: job.id });
    }
    return { queue: QUEUES.fleet, name: JOBS.fleetDeploy, jobs };
  }
}
