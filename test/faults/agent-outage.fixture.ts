import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { acceptingNotRun, Harness, hostId, http, startHarness, syncFleet, until } from '../harness';
import { AgentLink } from './agent-link.fixture';
import { sleep, spawnWorker, WorkerProcess } from './fault.fixture';
import { converged, outcomes } from './processes.fixture';

const EXAMPLE = acceptingNotRun(parse(readFileSync('placements/example.yaml', 'utf8')));
const MODULES: string[] = EXAMPLE.modules.map((m: { name: string }) => m.name);
const TERMINAL = ['completed', 'failed', 'infeasible', 'cancelled', 'rolled-back'];
const MACHINE_TERMINAL = ['committed', 'rolled-back', 'failed', 'cancelled'];
// One wave, no halt: the healthy machine commits whatever becomes of the faulted one.
const ROLLOUT = { canary: 0, waves: [100], maxUnavailable: 4, failureThreshold: 1 };
// The one host whose plan flashes (Agilio nic flavour -> bpf), and a healthy one beside it.
const FAULTED = 'edge-b03';
const HEALTHY = 'edge-a06';
// The README's bound for a silent agent mid-flash: its flash deadline (2 x (write + activate) + 30 s,
// 64 s for an Agilio) then the machine is unknown; generous on a loaded machine.
const SILENT_BOUND_MS = 64_000;

// How long the agent stays gone once its machine settled: several reconcile periods (2 s here).
const AGENT_GONE_MORE_MS = 10_000;

type Machine = { systemId: string; hostname: string; state: string; reason: string | null };

/**
 * The agent of a machine killed mid-flash (its connections reset, its port refusing) and one that hangs
 * mid-flash (connections accepted, nothing answered), each under a worker process: the machine
 * is rolled back, or marked unknown and resolved from what its agent reports once the agent is
 * back, within the README's bound; no worker exits; every machine ends committed-new or
 * restored-old (chains and firmware) as its agent reports, none stuck, MAAS annotations matching.
 */
export function describeAgentOutageMidFlash(kind: 'killed' | 'hung'): void {
  describeAgentOutage(kind, 'flash');
}

/**
 * The agent killed as the health check first exercises the new chain: the rollback that follows
 * cannot reach it, so the machine stays rolling-back (not failed, which would leave the new chain
 * and firmware in place for good) and is restored once the agent is back.
 */
export function describeAgentKilledMidHealthCheck(): void {
  describeAgentOutage('killed', 'health-check');
}

// The health check's first request that exercises the programs (vectors, else probe packets).
const EXERCISE = /^POST \/v1\/devices\/[^ ]+\/(run-vectors|probe) HTTP/m;

function describeAgentOutage(kind: 'killed' | 'hung', phase: 'flash' | 'health-check'): void {
  describe(`an agent ${kind} mid-${phase}`, () => {
    let h: Harness;
    let worker: WorkerProcess | null = null;
    let link: AgentLink | null = null;

    beforeAll(async () => {
      h = await startHarness({ worker: false, agents: { timeScale: 0.3 } });
      link = await AgentLink.inFrontOf(h, FAULTED);
      worker = spawnWorker(h, { IOPLANE_RECONCILE_MS: '2000' });
      await syncFleet(h);
    }, 120_000);
    afterAll(async () => {
      await worker?.kill();
      await link?.close();
      if (h) await h.stop().catch(() => undefined);
    });

    const firmware = async (systemId: string) =>
      (await h.agent(systemId).inventory()).devices.map((d) => ({ device: d.device.id, profile: 'profileId' in d ? d.profileId : null }));

    async function run(fault: (link: AgentLink) => Promise<void>) {
      const w = worker!;
      const [faulted, healthy] = [FAULTED, HEALTHY];
      const id = hostId(h, faulted);
      const before = { [faulted]: await firmware(id), [healthy]: await firmware(hostId(h, healthy)) };
      // At the health check, the fault is armed before the rollout starts and fires on the request itself.
      const healthCheckFault = phase === 'health-check' ? link!.killOn(EXERCISE) : null;
      const res = await http(h.apiUrl, 'POST', '/v1/placements', {
        ...EXAMPLE,
        selector: { hostnames: [faulted, healthy] },
        policy: { ...EXAMPLE.policy, rollout: ROLLOUT },
      });
      expect(res.status).toBe(202);
      const placementId: string = res.body.id;
      const machine = async (): Promise<Machine | undefined> =>
        (await http(h.apiUrl, 'GET', `/v1/placements/${placementId}`)).body.rollout?.machines?.find((m: Machine) => m.systemId === id);
      let last: unknown = null;
      const seenAs = async (state: string) => {
        const p = (await http(h.apiUrl, 'GET', `/v1/placements/${placementId}`)).body;
        last = {
          status: p.status,
          error: p.error,
          machines: p.rollout?.machines?.map((m: Machine) => `${m.hostname} ${m.state} ${m.reason ?? ''}`),
        };
        return p.rollout?.machines?.find((m: Machine) => m.systemId === id)?.state === state;
      };
      if (healthCheckFault) {
        await until(
          () => `${faulted}'s health check to start (last seen: ${JSON.stringify(last)}; worker output: ${w.output().slice(-2000)})`,
          async () =>
            (await Promise.race([healthCheckFault.then(() => true), sleep(200).then(() => false)])) || (await seenAs('committed')),
          300_000,
        );
        expect(link!.state).toBe('killed');
      } else {
        await until(
          () => `${faulted} to be flashing (last seen: ${JSON.stringify(last)}; worker output: ${w.output().slice(-2000)})`,
          () => seenAs('flashing'),
          120_000,
        );
        // Mid-flash on the card itself: the image is written and the trial boot runs.
        await until(
          () => `${faulted}'s card to have an image staged`,
          async () =>
            (await h.agent(id).inventory()).devices.some((d) => 'firmware' in d && d.firmware?.slots.some((s) => s.state === 'staged')),
          60_000,
        );
        await fault(link!);
      }
      const faultAt = Date.now();
      // The controller gives up on the agent within the bound: the machine settles while the agent is
      // still gone (unknown, or a rollback not confirmed), not on the agent's return.
      const settled = (m: Machine) =>
        phase === 'flash'
          ? !['flashing', 'rolling-back'].includes(m.state)
          : m.state !== 'rolling-back' || /rollback not confirmed/.test(m.reason ?? '');
      const left = await until(
        () => `${faulted} to settle (last seen: ${JSON.stringify(last)}; worker output: ${w.output().slice(-2000)})`,
        async () => {
          const m = await machine();
          last = m;
          return m && !['pending', 'flashing', 'loading', 'verifying'].includes(m.state) && settled(m) ? m : null;
        },
        SILENT_BOUND_MS + 120_000,
      );
      const decidedMs = Date.now() - faultAt;
      // While the agent stays gone nothing is decided blind: the machine stays unknown (neither
      // done nor rolled back), and the placement does not end on it.
      await sleep(AGENT_GONE_MORE_MS);
      const p = (await http(h.apiUrl, 'GET', `/v1/placements/${placementId}`)).body;
      // A flash's outcome is unknown; a rollback the agent never answered is still to be done.
      expect({ status: p.status, machine: p.rollout.machines.find((m: Machine) => m.systemId === id)?.state }).toEqual({
        status: 'rolling-out',
        machine: phase === 'flash' ? 'unknown' : 'rolling-back',
      });
      // The agent comes back (restarted): what the machine runs is resolved from it.
      await link!.restore();
      const final = await until(
        () => `the placement to end (worker output: ${w.output().slice(-3000)})`,
        async () => {
          const r = await http(h.apiUrl, 'GET', `/v1/placements/${placementId}`).catch(() => null);
          return r?.status === 200 && TERMINAL.includes(r.body.status) ? r.body : null;
        },
        600_000,
      );
      const convergedMs = Date.now() - faultAt;
      expect({ alive: w.alive(), output: w.alive() ? '' : w.output().slice(-3000) }).toEqual({ alive: true, output: '' });
      const machines: Machine[] = final.rollout.machines;
      expect(machines.filter((m) => !MACHINE_TERMINAL.includes(m.state))).toEqual([]);
      const seen = await outcomes(h, h.apiUrl, placementId, MODULES);
      expect(seen.length).toBe(2);
      expect(seen).toEqual(converged(seen, MODULES));
      // Restored-old includes the firmware: a machine not committed runs what it ran before the
      // rollout, once its cards are done with what they were doing (a flash outlives its agent).
      for (const m of machines) {
        await until(
          `${m.hostname}'s cards to be idle`,
          async () => (await h.agent(m.systemId).inventory()).devices.every((d) => !('firmware' in d) || !d.firmware?.updating),
          120_000,
        );
      }
      for (const m of machines.filter((x) => x.state !== 'committed'))
        expect({ ...m, firmware: await firmware(m.systemId) }).toEqual({ ...m, firmware: before[m.hostname] });
      expect(machines.find((m) => m.hostname === healthy)?.state).toBe('committed');
      // MAAS carries this placement's annotations exactly on the committed machines (caught up by the reconciler).
      const annotations = () =>
        machines.map((m) => ({
          hostname: m.hostname,
          annotated: h.sim.store.get(m.systemId).annotations.ioplane_placement === placementId,
        }));
      const wanted = machines.map((m) => ({ hostname: m.hostname, annotated: m.state === 'committed' }));
      await until('MAAS annotations to match', async () => JSON.stringify(annotations()) === JSON.stringify(wanted), 60_000).catch(
        () => undefined,
      );
      expect(annotations()).toEqual(wanted);
      process.stdout.write(
        `agent ${kind} mid-${phase}: ${faulted} settled ${left.state} ${decidedMs} ms after the fault; placement ${final.status} ${convergedMs} ms after it; ` +
          `${machines.map((m) => `${m.hostname} ${m.state}${m.reason ? ` (${m.reason.slice(0, 160)})` : ''}`).join('; ')}\n`,
      );
    }

    if (phase === 'health-check') {
      it('its machine stays rolling-back while the agent is gone and is restored once it is back, the rest commits', async () => {
        await run(async () => undefined);
      }, 900_000);
    } else if (kind === 'killed') {
      it('its machine is resolved once the agent is back (restarted), the rest commits', async () => {
        await run((l) => l.kill());
      }, 900_000);
    } else {
      it('its machine is unknown within the flash deadline, resolved once the agent answers again, the rest commits', async () => {
        await run(async (l) => l.hang());
      }, 900_000);
    }
  });
}
