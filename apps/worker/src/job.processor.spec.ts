import { Injectable, Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Job } from 'bullmq';
import { Logger as PinoNestLogger, LoggerModule } from 'nestjs-pino';
import { __resetOutOfContextForTests } from 'nestjs-pino/PinoLogger';
import pino from 'pino';
import { Writable } from 'node:stream';
import { JOBS, OnJob } from '@ioplane/queue';
import { JobProcessor } from './job.processor';

/** Logs the way processors and the orchestrator do: a Nest Logger with a context, no ids passed. */
@Injectable()
class MachineSteps extends JobProcessor {
  private readonly log = new Logger('Steps');

  @OnJob(JOBS.rolloutMachine)
  async machine(): Promise<string> {
    this.log.log({ step: 'flash' }, 'flashing');
    await new Promise((r) => setImmediate(r));
    new Logger('Rollout').warn({ step: 'verify' }, 'verify failed');
    return 'done';
  }

  @OnJob(JOBS.plan)
  async plan(): Promise<void> {
    this.log.log('planning');
  }
}

const fakeJob = (name: string, id: string, data: unknown) => ({ id, name, queueName: 'rollout', data }) as unknown as Job;

describe(JobProcessor.name, () => {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write: (chunk, _e, done) => (lines.push(JSON.parse(String(chunk))), done()) });

  it('writes every line of a job with its jobId, placementId and machine, and lines outside a job without them', async () => {
    __resetOutOfContextForTests();
    const mod = await Test.createTestingModule({
      imports: [LoggerModule.forRoot({ pinoHttp: { logger: pino({ level: 'info' }, sink) } })],
      providers: [MachineSteps],
    }).compile();
    mod.useLogger(mod.get(PinoNestLogger));
    await mod.init();
    const p = mod.get(MachineSteps);
    const [a, b] = await Promise.all([
      p.process(fakeJob(JOBS.rolloutMachine, 'pl-1.m.abc', { placementId: 'pl-1', wave: 0, systemId: 'abc' })),
      p.process(fakeJob(JOBS.rolloutMachine, 'pl-2.m.xyz', { placementId: 'pl-2', wave: 1, systemId: 'xyz' })),
    ]);
    expect([a, b]).toEqual(['done', 'done']);
    await p.process(fakeJob(JOBS.plan, 'pl-3', { placementId: 'pl-3' }));
    new Logger('Boot').log('outside any job');
    await mod.close();

    const ids = (msg: string) =>
      lines
        .filter((l) => l.msg === msg)
        .map((l) => [l.jobId, l.placementId, l.machine, l.wave])
        .sort();
    // Two jobs interleaved: each line keeps its own job's ids.
    expect(ids('flashing')).toEqual([
      ['pl-1.m.abc', 'pl-1', 'abc', 0],
      ['pl-2.m.xyz', 'pl-2', 'xyz', 1],
    ]);
    expect(ids('verify failed')).toEqual([
      ['pl-1.m.abc', 'pl-1', 'abc', 0],
      ['pl-2.m.xyz', 'pl-2', 'xyz', 1],
    ]);
    expect(lines.find((l) => l.msg === 'flashing')).toMatchObject({
      context: 'Steps',
      step: 'flash',
      job: JOBS.rolloutMachine,
      queue: 'rollout',
    });
    expect(lines.find((l) => l.msg === 'planning')).toMatchObject({ jobId: 'pl-3', placementId: 'pl-3' });
    expect(lines.find((l) => l.msg === 'planning')).not.toHaveProperty('machine');
    expect(lines.find((l) => l.msg === 'outside any job')).not.toHaveProperty('jobId');
  });
});
