import { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import type { CoreOptions } from '@ioplane/composition';
import { ApiModule } from './api.module';
import { mountQueueBoard } from './auth/queue-board';
import { bodyErrors, BODY_LIMIT_BYTES, rejectMalformedPath } from './request.errors';
import type { TokenRepository } from '@ioplane/state';
import { TOKEN_REPOSITORY } from './auth/auth.tokens';

export async function createApi(opts: CoreOptions): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.forRoot(opts), { bufferLogs: true });
  // Module uploads carry sources or an object as base64.
  app.useBodyParser('json', { limit: BODY_LIMIT_BYTES });
  // Registered here rather than by Nest at init, so bodyErrors below sees its errors too.
  app.useBodyParser('urlencoded', { extended: true });
  app.use(bodyErrors);
  app.use(rejectMalformedPath);
  app.useLogger(app.get(Logger));
  const doc = new DocumentBuilder()
    .setTitle('ioplane')
    .setDescription('Programmable IO plane: fleet, modules, placements')
    .setVersion('0.1.0')
    .addBearerAuth()
    .build();
  SwaggerModule.setup('docs', app, () => withErrorResponses(SwaggerModule.createDocument(app, doc)));
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

const ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', example: 'validation' },
        message: { type: 'string', example: 'query zone: must be 1-64 letters, digits, dot, dash or underscore' },
        field: { type: 'string', example: 'zone', description: 'the request part the error points at' },
        issues: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } },
      },
    },
  },
} as const;

const ERRORS: Record<string, string> = {
  '400': 'invalid input: `field` names what is wrong and why; nothing was changed',
  '401': 'no, unknown or revoked bearer token',
  '403': "the token's role is too weak for this endpoint",
  '404': 'what the path or body names does not exist',
  '409': 'the target is in a state that does not allow this',
  '422': 'well-formed but cannot be done (e.g. no machine matches the selector)',
  '413': 'the request body is over the limit',
  '429': 'too many mutating calls for this token, or too many refused ones from this address',
};

/** Every operation documents the error body all errors share, so clients can rely on one shape. */
function withErrorResponses(doc: OpenAPIObject): OpenAPIObject {
  doc.components = { ...(doc.components ?? {}), schemas: { ...(doc.components?.schemas ?? {}), Error: ERROR_SCHEMA as never } };
  for (const path of Object.values(doc.paths)) {
    for (const op of Object.values(path) as Array<{ responses?: Record<string, unknown>; 'x-ioplane-role'?: string }>) {
      if (!op || typeof op !== 'object' || !op.responses) continue;
      for (const [code, description] of Object.entries(ERRORS)) {
        if (op['x-ioplane-role'] === 'public' && (code === '401' || code === '403')) continue;
        const existing = op.responses[code] as { description?: string } | undefined;
        op.responses[code] = {
          description: existing?.description ?? description,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        };
      }
    }
  }
  return doc;
}
