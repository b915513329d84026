import { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import type { CoreOptions } from '@ioplane/runtime';
import { ApiModule } from './api.module';
import { mountQueueBoard } from './auth/queue-board';
import type { TokenRepository } from '@ioplane/state';
import { TOKEN_REPOSITORY } from './auth/auth.tokens';

export async function createApi(opts: CoreOptions): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.forRoot(opts), { bufferLogs: true });
  // Module uploads carry sources or an object as base64.
  app.useBodyParser('json', { limit: '8mb' });
  app.useLogger(app.get(Logger));
  const doc = new DocumentBuilder().setTitle('ioplane').setDescription('Programmable IO plane: fleet, modules, placements').setVersion('0.1.0').build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, doc));
  mountQueueBoard(app);
  return app;
}

/** Listens and returns the base URL (port 0 picks a free one). */
export async function listen(app: INestApplication, host: string, port: number): Promise<string> {
  await app.listen(port, host);
  const addr = app.getHttpServer().address();
  return `http://${host}:${typeof addr === 'object' && addr ? addr.port : port}`;
}

/**
 * A fresh installation has no token, so nobody could create one: the first start makes an admin
 * token and hands it to the caller to print once. Later starts find tokens and return null.
 */
export async function bootstrapAdminToken(app: INestApplication): Promise<string | null> {
  const tokens = app.get<TokenRepository>(TOKEN_REPOSITORY);
  if ((await tokens.count()) > 0) return null;
  return (await tokens.create('bootstrap-admin', 'admin')).token;
}
