import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import type { Device } from '@ioplane/domain';
import { sha256Hex, verifyArtifact } from '@ioplane/agent-api';
import { DeviceError, EmulatedHostDriver, EmulatedNicDriver, FaultBook, type DeviceDriver } from '@ioplane/devices';
import { loadProfiles } from '@ioplane/profiles';

/**
 * Worker-thread entry: hosts the real emulated drivers of a shard of bench machines and answers
 * what a host agent answers (same checks: digest over the bytes, ed25519 signature, then the
 * driver). A thread, not the bench's main thread: the devices' own CPU work (signature checks,
 * the offload verifier, counters) stays out of the orchestrator's thread, and every call crosses a
 * boundary as an agent call does. Nothing a device does blocks the thread (flash and activation are
 * timers, the analyser's bpftool runs as a child process), so machines sharing a thread never wait
 * for one another.
 */
export interface HostData {
  machines: Array<{ systemId: string; devices: Device[] }>;
  timeScale: number;
  publicKeyPem: string;
}

export interface HostRequest {
  id: number;
  systemId: string;
  op: 'inventory' | 'programs' | 'flash' | 'load' | 'commit' | 'detach' | 'rollback' | 'runVectors' | 'counters' | 'probe' | 'stats';
  deviceId?: string;
  body?: any;
}

export type HostReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; code: string; message: string };

/** Time each machine's devices spent in flash and load, measured inside the drivers. */
export interface DeviceTime {
  flashMs: number;
  loadMs: number;
  flashes: number;
  loads: number;
}

function serve(data: HostData): void {
  const profiles = loadProfiles();
  const faults = new FaultBook();
  const machines = new Map<string, Map<string, DeviceDriver>>();
  const spent = new Map<string, DeviceTime>();
  const known = new Map(data.machines.map((m) => [m.systemId, m.devices]));
  // Drivers come to life in the thread that first serves the machine and stay there.
  const driversOf = (systemId: string): Map<string, DeviceDriver> | undefined => {
    let drivers = machines.get(systemId);
    if (drivers) return drivers;
    const devices = known.get(systemId);
    if (!devices) return undefined;
    drivers = new Map<string, DeviceDriver>();
    for (const d of devices) {
      const profile = d.profileId ? profiles.find((p) => p.id === d.profileId) : undefined;
      const common = { device: d, profiles, faults, timeScale: data.timeScale };
      drivers.set(d.id, profile ? new EmulatedNicDriver({ ...common, profile }) : new EmulatedHostDriver(common));
    }
    machines.set(systemId, drivers);
    spent.set(systemId, { flashMs: 0, loadMs: 0, flashes: 0, loads: 0 });
    return drivers;
  };

  const checkSigned = (what: string, digest: string, signature: string, bytes?: Buffer): void => {
    if (bytes && sha256Hex(bytes) !== digest) throw new DeviceError('digest_mismatch', `${what}: the bytes do not hash to the digest`);
    if (!verifyArtifact(digest, signature, data.publicKeyPem)) throw new DeviceError('bad_signature', `${what}: signature does not verify`);
  };

  const handle = async (r: HostRequest): Promise<unknown> => {
    if (r.op === 'stats' && !r.systemId) return { ready: true };
    const drivers = driversOf(r.systemId);
    if (!drivers) throw new DeviceError('not_found', `no machine ${r.systemId} on this host`);
    if (r.op === 'inventory') return { devices: [...drivers.values()].map((d) => d.inventory()) };
    if (r.op === 'programs') return { devices: await Promise.all([...drivers.values()].map((d) => d.programs())) };
    if (r.op === 'stats') return spent.get(r.systemId);
    const driver = drivers.get(r.deviceId ?? '');
    if (!driver) throw new DeviceError('not_found', `no device ${r.deviceId} on ${r.systemId}`);
    const t = spent.get(r.systemId)!;
    const b = r.body ?? {};
    switch (r.op) {
      case 'flash': {
        const bytes = b.image.bytes ? Buffer.from(b.image.bytes, 'base64') : undefined;
        checkSigned(`firmware ${b.image.profileId}`, b.image.digest, b.image.signature, bytes);
        const t0 = performance.now();
        const res = await driver.flash(
          { profileId: b.image.profileId, version: b.image.version, digest: b.image.digest, bytes },
          { activate: b.activate },
        );
        t.flashMs += performance.now() - t0;
        t.flashes++;
        return res;
      }
      case 'load': {
        const modules = (b.modules as any[]).map((m) => {
          const object = Buffer.from(m.object, 'base64');
          checkSigned(`module ${m.name}`, m.digest, m.signature, object);
          return {
            name: m.name,
            version: m.version,
            digest: m.digest,
            program: m.program,
            persistentMaps: m.persistentMaps,
            object,
            pps: m.pps,
          };
        });
        const t0 = performance.now();
        const res = await driver.load({ port: b.port ?? 0, target: b.target, modules });
        t.loadMs += performance.now() - t0;
        t.loads++;
        return res;
      }
      case 'commit':
        return driver.commit(b.port ?? 0);
      case 'detach':
        return driver.detach(b.port ?? 0);
      case 'rollback':
        return driver.rollback({ scope: b.scope ?? 'program', port: b.port ?? 0 });
      case 'probe':
        return driver.probe(b.port ?? 0, b.packets ?? 50);
      case 'counters':
        return driver.counters();
      case 'runVectors': {
        const results = await driver.runVectors(
          b.port ?? 0,
          (b.vectors as any[]).map((v) => ({
            module: v.module,
            name: v.name,
            packet: Buffer.from(v.packetHex, 'hex'),
            expectVerdict: v.expectVerdict,
            expectOutput: v.expectOutputHex ? Buffer.from(v.expectOutputHex, 'hex') : undefined,
            repeat: v.repeat,
          })),
        );
        return { deviceId: driver.device.id, passed: results.every((x) => x.passed), results };
      }
    }
    throw new DeviceError('not_found', `no operation ${r.op}`);
  };

  parentPort!.on('message', (r: HostRequest) => {
    handle(r).then(
      (value) => parentPort!.postMessage({ id: r.id, ok: true, value } satisfies HostReply),
      (e: Error & { code?: string }) =>
        parentPort!.postMessage({ id: r.id, ok: false, code: e.code ?? 'internal', message: e.message } satisfies HostReply),
    );
  });
}

if (parentPort && workerData?.machines) serve(workerData as HostData);
