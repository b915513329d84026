import { machine } from '@ioplane/domain/testing';
import type { PlacementRecord } from '@ioplane/state';
import { placementRequestSchema } from './placement-request.schema';
import { deployCandidates, deployRetries, desiredPlacementFor, provisioningRequest } from './provisioning';

let n = 0;
function placement(over: Partial<PlacementRecord> & { request?: Record<string, unknown> } = {}): PlacementRecord {
  const { request, ...rest } = over;
  return {
    id: `pl-${++n}`,
    status: 'completed',
    reason: 'operator',
    idempotencyKey: null,
    createdAt: `2026-01-01T00:00:0${n % 10}.000Z`,
    updatedAt: '2026-01-01T00:00:00.000Z',
    error: null,
    request: placementRequestSchema.parse({ selector: { zones: ['zone-a'] }, modules: [{ name: 'ddos-drop' }], ...request }),
    ...rest,
  };
}

describe(desiredPlacementFor.name, () => {
  const m = machine({ systemId: 'h1', zone: 'zone-a' });

  it('picks the newest placement that runs (or is about to) and whose selector takes the machine', () => {
    const older = placement({ createdAt: '2026-01-01T00:00:01.000Z' });
    const newer = placement({ createdAt: '2026-01-02T00:00:00.000Z', status: 'rolling-out' });
    const elsewhere = placement({ createdAt: '2026-01-03T00:00:00.000Z', request: { selector: { zones: ['zone-b'] } } });
    expect(desiredPlacementFor(m, [older, newer, elsewhere])?.id).toBe(newer.id);
  });

  it('never follows a provisioning placement, one that ended badly or has not been planned, or a request that no longer parses', () => {
    const candidates = [
      placement({ reason: 'provisioning', createdAt: '2026-02-01T00:00:00.000Z' }),
      placement({ status: 'failed', createdAt: '2026-02-02T00:00:00.000Z' }),
      placement({ status: 'queued', createdAt: '2026-02-03T00:00:00.000Z' }),
      { ...placement({ createdAt: '2026-02-04T00:00:00.000Z' }), request: { selector: 'bad' } },
    ];
    expect(desiredPlacementFor(m, candidates)).toBeNull();
    const good = placement({ status: 'planned' });
    expect(desiredPlacementFor(m, [...candidates, good])?.id).toBe(good.id);
  });
});

describe(deployCandidates.name, () => {
  it("takes the selector's hosts MAAS can deploy (Ready, Allocated, Failed deployment), never a DPU or a Deployed host", () => {
    const req = placementRequestSchema.parse({
      selector: { zones: ['zone-a'] },
      modules: [{ name: 'ddos-drop' }],
      policy: { deploy: true },
    });
    const machines = [
      machine({ systemId: 'ready', status: 4, statusName: 'Ready' }),
      machine({ systemId: 'allocated', status: 10, statusName: 'Allocated' }),
      machine({ systemId: 'failed', status: 11, statusName: 'Failed deployment' }),
      machine({ systemId: 'deployed' }),
      machine({ systemId: 'dpu', status: 4, statusName: 'Ready', isDpu: true }),
      machine({ systemId: 'other', status: 4, statusName: 'Ready', zone: 'zone-b' }),
    ];
    expect(deployCandidates(req, machines).map((m) => m.systemId)).toEqual(['ready', 'allocated', 'failed']);
  });
});

describe(deployRetries.name, () => {
  it('reads policy.deploy: none, the default two retries, or the number asked for', () => {
    const req = (deploy: unknown) =>
      placementRequestSchema.parse({ selector: { zones: ['zone-a'] }, modules: [{ name: 'ddos-drop' }], policy: { deploy } });
    expect(deployRetries(req(false))).toBeNull();
    expect(deployRetries(req(true))).toBe(2);
    expect(deployRetries(req({ retries: 5 }))).toBe(5);
  });
});

describe(provisioningRequest.name, () => {
  it('asks for the same modules and policy on this one machine, without deploying or a dry run, as provisioning', () => {
    const desired = placement({ request: { modules: [{ name: 'l4-lb' }], policy: { deploy: true, allowPartial: true }, dryRun: true } });
    const req = provisioningRequest(desired, machine({ systemId: 'h7', hostname: 'edge-07' }));
    expect(req).toMatchObject({
      selector: { hostnames: ['edge-07'] },
      modules: [{ name: 'l4-lb' }],
      dryRun: false,
      reason: 'provisioning',
      policy: { deploy: false, allowPartial: true },
    });
    expect(placementRequestSchema.safeParse(req).success).toBe(true);
  });
});
