import { Controller, Get, NotFoundException, Param } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { ApiTags } from '@nestjs/swagger';
import { Queue } from 'bullmq';
import { z } from 'zod';
import { QUEUES } from '@ioplane/queue';
import { ZodPipe } from './zod.pipe';
import { RequireRole } from './auth/role.decorator';
import { Returns } from './dto/returns.decorator';
import { jobView } from './dto/fleet.dto';

const jobIdParam = z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'must be a job id');

@ApiTags('jobs')
@Controller('v1/jobs')
export class JobsController {
  constructor(@InjectQueue(QUEUES.fleet) private readonly queue: Queue) {}

  @Get(':id')
  @RequireRole('viewer')
  @Returns(jobView)
  async get(@Param('id', new ZodPipe(jobIdParam, 'param', 'id')) id: string) {
    // The state first, then the job: a job that finishes between two reads is then seen finished
    // with its final record (attempts, result), never "completed" beside the counts of its run.
    const state = await this.queue.getJobState(id);
    const job = await this.queue.getJob(id);
    if (!job) throw new NotFoundException({ code: 'not_found', field: 'id', message: `no job ${id}` });
    return {
      id: job.id,
      name: job.name,
      state,
      progress: job.progress,
      attemptsMade: job.attemptsMade,
      result: job.returnvalue ?? null,
      failedReason: job.failedReason ?? null,
      createdAt: new Date(job.timestamp).toISOString(),
      finishedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
    };
  }
}
