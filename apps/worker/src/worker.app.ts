import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { WorkerModule, WorkerOptions } from './worker.module';

export async function createWorker(opts: WorkerOptions): Promise<INestApplicationContext> {
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(opts), { bufferLogs: true });
  app.useLogger(app.get(Logger));
  await app.init();
  return app;
}
