import { Controller, Get, HttpCode, Inject, NotFoundException, Param, Post } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Queue } from 'bullmq';
import { z } from 'zod';
import { FLEET_SYNC_JOB_OPTIONS, fleetSyncPayload, FleetSyncPayload, JOBS, QUEUES } from '@ioplane/queue';
import { FLEET_REPOSITORY } from '@ioplane/runtime';
import type { FleetRepository } from '@ioplane/state';
import { ValidBody, ValidQuery, ZodPipe } from './zod.pipe';
import { RequireRole } from './auth/role.decorator';

const name = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, dot, dash or underscore');
const fleetQuery = z.object({
  zone: name.optional(),
  pool: name.optional(),
  tag: name.optional(),
  includeDpus: z.enum(['true', 'false'], { error: 'must be true or false' }).optional().describe('also list DPUs as machines (they always appear as devices of their host)'),
});
type FleetQuery = z.infer<typeof fleetQuery>;
const systemId = z.string().regex(/^[a-z0-9]{1,32}$/, 'must be a MAAS system_id (lowercase letters and digits)');
const syncBody = fleetSyncPayload.omit({ reason: true }).strict();

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
  async list(@ValidQuery(fleetQuery) q: FleetQuery) {
    const [meta, machines] = await Promise.all([this.repo.meta(), this.repo.listMachines(q)]);
    const items = q.includeDpus === 'true' ? machines : machines.filter((m) => !m.isDpu);
    return { generation: meta.generation, syncedAt: meta.syncedAt, count: items.length, items };
  }

  @Get('machines/:systemId')
  @RequireRole('viewer')
  @ApiParam({ name: 'systemId' })
  async get(@Param('systemId', new ZodPipe(systemId, 'param', 'systemId')) id: string) {
    const m = await this.repo.getMachine(id);
    if (!m) throw new NotFoundException({ code: 'not_found', field: 'systemId', message: `no machine ${id} in the inventory` });
    return m;
  }

  @Post('sync')
  @RequireRole('operator')
  @HttpCode(202)
  @ApiOperation({ summary: 'Queue a fleet sync from MAAS now' })
  async sync(@ValidBody(syncBody) body: Omit<FleetSyncPayload, 'reason'>) {
    const data: FleetSyncPayload = { reason: 'manual', systemIds: body.systemIds ?? [] };
    const job = await this.queue.add(JOBS.fleetSync, data, FLEET_SYNC_JOB_OPTIONS);
    return { jobId: job.id, queue: QUEUES.fleet, name: JOBS.fleetSync };
  }
}
