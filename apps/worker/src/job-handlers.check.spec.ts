import { Injectable } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { checkJobHandlers, JobHandlersError, JobName, JOBS, OnJob } from '@ioplane/queue';
import { JobHandlersCheck } from './job-handlers.check';
import { WorkerModule } from './worker.module';
import { FleetProcessor } from './fleet.processor';
import { PlacementProcessor } from './placement.processor';
import { RolloutProcessor } from './rollout.processor';
import { RebalanceProcessor } from './rebalance.processor';
import { DryRunProcessor } from './dry-run.processor';

/** A provider handling every registered job but `except`. */
function handlersFor(except: JobName[] = []) {
  @Injectable()
  class Handlers {}
  for (const job of Object.values(JOBS).filter((j) => !except.includes(j))) {
    const method = `on_${job}`;
    Object.defineProperty(Handlers.prototype, method, { value: () => Promise.resolve(job) });
    OnJob(job)(Handlers.prototype, method, {});
  }
  return Handlers;
}

@Injectable()
class SecondPlanHandler {
  @OnJob(JOBS.plan) plan() {
    return Promise.resolve();
  }
}

async function boot(...providers: Array<new () => object>) {
  const mod = await Test.createTestingModule({ imports: [DiscoveryModule], providers: [JobHandlersCheck, ...providers] }).compile();
  try {
    await mod.init();
  } finally {
    await mod.close();
  }
}

describe(JobHandlersCheck.name, () => {
  it('lets a worker start when every job has exactly one handler', async () => {
    await expect(boot(handlersFor())).resolves.toBeUndefined();
  });

  it('stops the boot when a registered job has no handler, naming it', async () => {
    const err = await boot(handlersFor([JOBS.rolloutWave])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobHandlersError);
    expect((err as JobHandlersError).problems).toEqual([expect.objectContaining({ code: 'job_without_handler', job: JOBS.rolloutWave })]);
  });

  it('stops the boot when a job has two handlers, naming both', async () => {
    const err = await boot(handlersFor(), SecondPlanHandler).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobHandlersError);
    expect((err as JobHandlersError).problems).toEqual([
      expect.objectContaining({
        code: 'job_with_two_handlers',
        job: JOBS.plan,
        message: expect.stringContaining('SecondPlanHandler.plan'),
      }),
    ]);
  });

  it('is part of the worker, whose processors cover the registry', () => {
    const worker = WorkerModule.forRoot({
      config: {} as never,
      redisUrl: 'redis://127.0.0.1:1',
      name: 'spec',
      maas: { url: 'http://127.0.0.1:1', apiKey: 'a:b:c' },
    });
    expect(worker.providers).toContain(JobHandlersCheck);
    expect(checkJobHandlers([FleetProcessor, PlacementProcessor, DryRunProcessor, RolloutProcessor, RebalanceProcessor])).toEqual([]);
  });
});
