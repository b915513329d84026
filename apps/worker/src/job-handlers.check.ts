import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { assertJobHandlers, jobHandlersOf } from '@ioplane/queue';

/**
 * The boot check of the job registry: the providers of this process that handle jobs (@OnJob)
 * cover every registered job exactly once, or the worker does not start (JobHandlersError names
 * each job without a handler or with two).
 */
@Injectable()
export class JobHandlersCheck implements OnModuleInit {
  constructor(private readonly discovery: DiscoveryService) {}

  onModuleInit(): void {
    const classes = new Set<object>();
    for (const w of this.discovery.getProviders()) {
      const cls = w.metatype ?? (w.instance as object | undefined)?.constructor;
      if (cls && jobHandlersOf(cls).length) classes.add(cls);
    }
    assertJobHandlers([...classes]);
  }
}
