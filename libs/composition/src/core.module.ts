import { DynamicModule, Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { BullModule, getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { LoggerModule } from 'nestjs-pino';
import Redis from 'ioredis';
import type { DestinationStream } from 'pino';
import { randomUUID } from 'node:crypto';
import { QueueConnectionsGuard, queuePrefix, QUEUES, RedisConnections } from '@ioplane/queue';
import { join } from 'node:path';
import { ModuleCatalog } from '@ioplane/catalog';
import type { FirmwareProfile, FleetMachine } from '@ioplane/domain';
import { metrics } from '@ioplane/metrics';
import { loadProfiles } from '@ioplane/profiles';
import { RedisFleetRepository, RedisModuleRepository, RedisPlacementRepository, RolloutRepository } from '@ioplane/state';
import {
  createLogger,
  type IoplaneConfig,
  loadOrCreateSecret,
  loadOrCreateSigningKeys,
  redisSecrets,
  registerSecret,
} from '@ioplane/runtime';
import {
  AGENT_FACTS,
  CONTROLLER_KEYS,
  FLEET_REPOSITORY,
  IOPLANE_CONFIG,
  MODULE_CATALOG,
  PLACEMENT_REPOSITORY,
  PROFILES,
  ROLLOUT_REPOSITORY,
  REDIS_CONNECTIONS,
  STATE_REDIS,
} from './core.tokens';
import { agentDeviceFacts } from '@ioplane/planning';

@Injectable()
class StateRedisLifecycle implements OnApplicationShutdown {
  constructor(@Inject(REDIS_CONNECTIONS) private readonly connections: RedisConnections) {}
  async onApplicationShutdown(): Promise<void> {
    await this.connections.close();
  }
}

export interface CoreOptions {
  config: IoplaneConfig;
  /** The Redis actually in use: REDIS_URL or the embedded server. */
  redisUrl: string;
  name: string;
  /** Where log lines go; stdout unless a test captures them. */
  logDestination?: DestinationStream;
  /**
   * Queue connection role. BullMQ workers take the queue's connection, so a worker
   * process needs the blocking-safe one; the API fails fast instead of buffering.
   */
  queueRole?: 'producer' | 'worker';
}

/** Config, logging, Redis state and queues: what every ioplane app shares. */
@Global()
@Module({})
export class CoreModule {
  static forRoot({ config, redisUrl, name, logDestination, queueRole = 'producer' }: CoreOptions): DynamicModule {
    registerSecret(config.MAAS_API_KEY);
    for (const secret of redisSecrets(redisUrl)) registerSecret(secret);
    // One owner for every Redis client this process opens (a cluster's are shared with BullMQ).
    const connections = new RedisConnections(redisUrl);
    const onUnreplicated = (what: string, replicas: number) =>
      logger.warn({ what, replicas }, 'a write no replica confirmed within its WAIT: a failover now could lose it');
    const logger = createLogger({ level: config.LOG_LEVEL, name, destination: logDestination });
    return {
      module: CoreModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: {
            logger,
            genReqId: (req) => (req.headers['x-request-id'] as string) ?? randomUUID(),
            autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' },
          },
        }),
        BullModule.forRoot({ connection: connections.queue('worker'), prefix: queuePrefix(config.IOPLANE_PREFIX) }),
        BullModule.registerQueue(
          ...Object.values(QUEUES).map((name) => ({
            name,
            connection: connections.queue(queueRole),
          })),
        ),
      ],
      providers: [
        { provide: IOPLANE_CONFIG, useValue: config },
        { provide: REDIS_CONNECTIONS, useValue: connections },
        {
          provide: STATE_REDIS,
          useFactory: () => {
            const r = connections.client('producer', { enableOfflineQueue: true });
            // ioredis reconnects by itself; the readiness probe reports the outage, the log says it once per error kind.
            let last = '';
            r.on('error', (e: Error) => {
              if (e.message !== last) logger.warn({ err: e.message }, 'redis connection error');
              last = e.message;
            });
            r.on('ready', () => (last = ''));
            return r;
          },
        },
        { provide: FLEET_REPOSITORY, useFactory: (r: Redis) => new RedisFleetRepository(r, config.IOPLANE_PREFIX), inject: [STATE_REDIS] },
        {
          provide: ROLLOUT_REPOSITORY,
          useFactory: (r: Redis) => new RolloutRepository(r, config.IOPLANE_PREFIX, { onUnreplicated }),
          inject: [STATE_REDIS],
        },
        {
          provide: PLACEMENT_REPOSITORY,
          useFactory: (r: Redis) => new RedisPlacementRepository(r, config.IOPLANE_PREFIX, { onUnreplicated }),
          inject: [STATE_REDIS],
        },
        // Loaded once at boot: a bad profile stops the process with the file and field named.
        { provide: PROFILES, useFactory: () => loadProfiles() },
        {
          provide: MODULE_CATALOG,
          useFactory: (r: Redis, profiles: FirmwareProfile[]) =>
            new ModuleCatalog(new RedisModuleRepository(r, config.IOPLANE_PREFIX), profiles, {
              cacheDir: join(config.IOPLANE_DATA_DIR, 'artifacts'),
              onBuild: (cached) => metrics.compileCache.inc({ result: cached ? 'hit' : 'miss' }),
            }),
          inject: [STATE_REDIS, PROFILES],
        },
        {
          provide: CONTROLLER_KEYS,
          useFactory: () => {
            const dir = config.IOPLANE_KEYS_DIR ?? join(config.IOPLANE_DATA_DIR, 'keys');
            const keys = {
              privateKeyPem: loadOrCreateSigningKeys(dir).privateKeyPem,
              agentTokenSecret: loadOrCreateSecret(dir, 'agent-token.secret'),
            };
            registerSecret(keys.agentTokenSecret);
            return keys;
          },
        },
        {
          provide: AGENT_FACTS,
          useFactory: (k: { agentTokenSecret: string }) => {
            const facts = agentDeviceFacts(k.agentTokenSecret);
            return async (m: FleetMachine) => {
              const r = await facts(m);
              if (r) metrics.agentReachable.set({ system_id: m.systemId }, r.ok ? 1 : 0);
              return r;
            };
          },
          inject: [CONTROLLER_KEYS],
        },
        StateRedisLifecycle,
        {
          provide: QueueConnectionsGuard,
          useFactory: (...queues: Queue[]) => new QueueConnectionsGuard(queues, (f, m) => logger.warn(f, m)),
          inject: Object.values(QUEUES).map((q) => getQueueToken(q)),
        },
      ],
      exports: [
        CONTROLLER_KEYS,
        AGENT_FACTS,
        IOPLANE_CONFIG,
        STATE_REDIS,
        REDIS_CONNECTIONS,
        FLEET_REPOSITORY,
        PLACEMENT_REPOSITORY,
        ROLLOUT_REPOSITORY,
        PROFILES,
        MODULE_CATALOG,
        BullModule,
      ],
    };
  }
}
