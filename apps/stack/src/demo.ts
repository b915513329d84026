import { loadConfigOrExit, systemCheck } from '@ioplane/runtime';
import { orderHostsWithDpus, renderFleetTable } from '@ioplane/inventory';
import { IoplaneApi } from '../../cli/src/api.client';
import { fetchFleet, fleetSummary, syncFleet } from '../../cli/src/fleet.command';
import { startStack } from './stack';

/**
 * `npm run demo`: the main job on the embedded default. Boots the stack, syncs the
 * fleet from MAAS through the queue with progress, prints the inventory, shuts down.
 */
async function demo(): Promise<number> {
  // Free ports unless the operator chose them, so a demo never collides with a running ioplane.
  const config = loadConfigOrExit({ API_PORT: '0', MAAS_PORT: '0', LOG_LEVEL: 'warn', ...process.env });
  systemCheck();
  const out = (s: string) => process.stdout.write(`${s}\n`);
  const stack = await startStack(config, { schedules: false });
  try {
    out(`ioplane demo: api ${stack.apiUrl}, MAAS ${stack.maasUrl}${stack.embedded.maas ? ' (simulator)' : ''}, redis ${stack.embedded.redis ? 'embedded' : 'REDIS_URL'}`);
    const api = new IoplaneApi(stack.apiUrl);
    out('step 1/2: fleet sync from MAAS');
    const sync = await syncFleet(api, { wait: true });
    if (sync.state !== 'completed') {
      out(`fleet sync ${sync.jobId} ${sync.state}: ${sync.failedReason ?? ''}`);
      return 1;
    }
    out('step 2/2: inventory');
    const fleet = await fetchFleet(api, { dpus: true });
    out(renderFleetTable(orderHostsWithDpus(fleet.items)));
    out(fleetSummary(fleet));
    return 0;
  } finally {
    await stack.stop();
  }
}

demo().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`ioplane demo failed: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
