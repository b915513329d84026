import { promises as fsp } from 'node:fs';
import { Writable } from 'node:stream';
import pino from 'pino';
import { device } from '@ioplane/domain/testing';
import { buildModule } from '@ioplane/compiler';
import { AgentClient, AgentError, generateSigningKeys, sha256Hex, signArtifact, signedLoadBody } from '@ioplane/agent-api';
import { loadCatalog } from '@ioplane/modules';
import { loadProfiles } from '@ioplane/profiles';
import { startAgent, type RunningAgent } from './agent.server';

const keys = generateSigningKeys();
const token = 'agent-spec-token-0123456789abcdef';
const faultToken = 'agent-spec-fault-token-0123456789abcdef';
// An unprofiled NIC, a BlueField-2 the host's agent runs (an embedded simulator's), a card whose profile this agent does not know.
const devices = [
  device('bcm57414', { machine: 'm7', name: 'eno1', interfaces: ['eno1'] }),
  device('bluefield-2', { machine: 'm7', name: 'bf2', interfaces: ['ens2f0np0'], dpuSystemId: null }),
  device('nic', { machine: 'm7', name: 'eno9', interfaces: [], profileId: 'no-such-profile' }),
];
let logs = '';
let agent: RunningAgent;
let client: AgentClient;
let cache: string;
let object: Buffer;

beforeAll(async () => {
  cache = await fsp.mkdtemp('/tmp/ioplane-agent-spec-');
  const m = loadCatalog().find((x) => x.name === 'flow-counter')!;
  object = await fsp.readFile((await buildModule({ name: m.name, dir: m.dir!, sources: m.sources }, { cacheDir: cache })).objectPath);
  const sink = new Writable({ write: (c, _e, cb) => ((logs += c.toString()), cb()) });
  agent = await startAgent({
    id: 'm7',
    host: '127.0.0.1',
    port: 0,
    token,
    machine: { systemId: 'm7', devices },
    profiles: loadProfiles(),
    publicKeyPem: keys.publicKeyPem,
    timeScale: 0.00001,
    kernel: 'off',
    stateDir: `${cache}/state`,
    logger: pino({ level: 'info' }, sink),
    simulator: { faultToken },
  });
  client = new AgentClient(agent.url, token);
}, 60_000);

afterAll(async () => {
  await agent.close();
  await fsp.rm(cache, { recursive: true, force: true });
});

const load = (version = '1.0.0') =>
  signedLoadBody(
    'dpu-arm-xdp',
    [{ name: 'flow-counter', version, program: 'xdp', object, persistentMaps: ['flow_table'] }],
    keys.privateKeyPem,
  );

describe('agent HTTP API', () => {
  it('answers /healthz without a token and 401 to a missing or wrong one', async () => {
    expect((await fetch(`${agent.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${agent.url}/v1/inventory`)).status).toBe(401);
    await expect(new AgentClient(agent.url, `${token}x`).inventory()).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
  });

  it('answers 400 naming the path to malformed percent-encoding, with or without a token', async () => {
    for (const path of ['/v1/devices/%E0%A4%A/counters', '/%E0%A4%A']) {
      const anon = await fetch(`${agent.url}${path}`);
      expect({ path, status: anon.status, body: await anon.json() }).toEqual({
        path,
        status: 400,
        body: { error: { code: 'invalid_path', message: expect.stringContaining('percent-encoding'), field: 'path' } },
      });
    }
    const authed = await fetch(`${agent.url}/v1/devices/%E0%A4%A/counters`, { headers: { authorization: `Bearer ${token}` } });
    expect(authed.status).toBe(400);
  });

  it("lists devices with their drivers (host XDP for an unprofiled card and for a DPU's netdevs); a card whose profile is not loaded is listed without one", async () => {
    const inv = await client.inventory();
    expect(inv.mode).toBe('emulated');
    expect(inv.devices.map((d) => [d.device.id, d.driver])).toEqual([
      ['m7/eno1', 'emulated-host'],
      ['m7/bf2', 'emulated-dpu'],
      ['m7/bf2~xdp', 'emulated-host'],
      ['m7/eno9', null],
    ]);
    // No BlueField-2 firmware lists driver XDP on the host's netdevs: generic only there.
    expect(inv.devices.find((d) => d.device.id === 'm7/bf2~xdp')).toMatchObject({
      targets: ['host-xdp-generic'],
      ports: 1,
      hookSlots: { 'xdp-generic': 10 },
    });
    await expect(client.load('m7/eno9', load())).rejects.toMatchObject({ status: 422, code: 'unprofiled' });
    await expect(client.load('m7/nope', load())).rejects.toMatchObject({ status: 404 });
  });

  it('400s name the offending field', async () => {
    const bad = { ...load(), modules: [{ ...load().modules[0], digest: 'xyz' }] };
    await expect(client.load('m7/bf2', bad)).rejects.toMatchObject({ status: 400, code: 'invalid_request', field: 'modules.0.digest' });
    await expect(client.load('m7/bf2', { ...load(), target: 'warp-drive' as never })).rejects.toMatchObject({
      status: 400,
      field: 'target',
    });
    await expect(client.setFaults({ devices: { 'm7/bf2': { hang: { sometimes: 1 } as never } } }, faultToken)).rejects.toMatchObject({
      status: 400,
      field: 'devices.m7/bf2.hang',
    });
  });

  it('loads once; the same chain again is a no-op reporting the current state', async () => {
    const first = await client.load('m7/bf2', load());
    expect(first.status).toBe('loaded');
    const again = await client.load('bf2', load());
    expect(again).toMatchObject({
      status: 'unchanged',
      current: { chainDigest: first.current.chainDigest, rootProgId: first.current.rootProgId },
    });
    const progs = await client.programs();
    expect(progs.devices.find((d) => d.deviceId === 'm7/bf2')!.ports[0].current!.modules[0]).toMatchObject({
      name: 'flow-counter',
      digest: sha256Hex(object),
    });
  });

  it('refuses a bad signature or bytes that do not match the digest, logs it, and never logs the token', async () => {
    const forged = load('2.0.0');
    forged.modules[0].signature = signArtifact(forged.modules[0].digest, generateSigningKeys().privateKeyPem);
    await expect(client.load('m7/bf2', forged)).rejects.toMatchObject({ status: 422, code: 'bad_signature', field: 'modules.0.signature' });
    const swapped = load('2.0.0');
    swapped.modules[0].object = Buffer.from('not the signed bytes').toString('base64');
    await expect(client.load('m7/bf2', swapped)).rejects.toMatchObject({ code: 'digest_mismatch' });
    expect((await client.programs()).devices.find((d) => d.deviceId === 'm7/bf2')!.ports[0].current!.modules[0].version).toBe('1.0.0');
    expect(logs).toMatch(/bad signature/);
    expect(logs).not.toContain(token);
    expect(logs).not.toContain('PRIVATE KEY');
  });

  it('flashes with an injected fault: falls back; a repeat of the active image is reported, not flashed', async () => {
    const digest = sha256Hex(Buffer.from('bfb 24.35.9000'));
    const image = {
      profileId: 'nvidia-bluefield-2-24.35',
      version: '24.35.9000',
      digest,
      signature: signArtifact(digest, keys.privateKeyPem),
      bytes: Buffer.from('bfb 24.35.9000').toString('base64'),
    };
    // No image bytes: nothing to write into a slot, refused with the field named.
    const { bytes: _none, ...bare } = image;
    await expect(client.flash('m7/bf2', { image: bare })).rejects.toMatchObject({
      status: 422,
      code: 'missing_image',
      field: 'image.bytes',
    });
    await client.setFaults({ devices: { bf2: { flashFails: { next: 1 } } } }, faultToken);
    const failed = await client.flash('m7/bf2', { image });
    expect(failed).toMatchObject({ status: 'failed' });
    expect(failed.firmware.activeSlot).toBe('boot0');
    const ok = await client.flash('m7/bf2', { image });
    expect(ok).toMatchObject({ status: 'committed', slot: 'boot1' });
    // The image really went into the slot's file (written, read back, digest checked).
    expect(await fsp.readFile(`${cache}/state/firmware/m7_bf2/boot1.img`, 'utf8')).toBe('bfb 24.35.9000');
    expect((await client.flash('m7/bf2', { image })).status).toBe('already_active');
    // The first base64 character always changes (a fixed 'A' left one signature in 64 intact).
    const forged = image.signature.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
    await expect(client.flash('m7/bf2', { image: { ...image, signature: forged } })).rejects.toMatchObject({ code: 'bad_signature' });
    const back = await client.rollback('m7/bf2', { scope: 'firmware' });
    expect(back.firmware?.activeSlot).toBe('boot0');
  });

  it('runs vectors and reads counters on the device; without a kernel a vector is not-run with the reason, never passed', async () => {
    await client.load('m7/bf2', load());
    const r = await client.runVectors('m7/bf2', {
      vectors: [
        {
          name: 'arp',
          packetHex: 'ffffffffffff02000000000108060001080006040001020000000001c0000201000000000000c0000202',
          expectVerdict: 'XDP_PASS',
        },
      ],
    });
    expect(r.passed).toBe(false);
    expect(r.results[0]).toMatchObject({
      name: 'arp',
      passed: false,
      notRun: true,
      actualVerdict: 'NOT_RUN',
      reason: 'not run: kernel disabled by configuration',
    });
    const c = await client.counters('m7/bf2');
    expect(c.modules[0]).toMatchObject({ module: 'flow-counter', source: 'emulated' });
    const e = await client.rollback('m7/eno1').catch((x: AgentError) => x);
    expect(e).toMatchObject({ status: 409, code: 'nothing_to_roll_back' });
  });
});

describe('the fault endpoint', () => {
  const faults = { devices: { bf2: { flashFails: { next: 1 } } } };

  it("takes the simulator's fault token only: the agent token gets 403, none or a wrong one 401", async () => {
    const before = agent.faults.all();
    await expect(client.setFaults(faults, token)).rejects.toMatchObject({ status: 403, code: 'forbidden', field: 'Authorization' });
    await expect(client.setFaults(faults, `${faultToken}x`)).rejects.toMatchObject({ status: 401 });
    expect((await fetch(`${agent.url}/v1/faults`, { method: 'PUT', body: JSON.stringify(faults) })).status).toBe(401);
    expect(agent.faults.all()).toEqual(before);
    expect(await client.setFaults(faults, faultToken)).toMatchObject({ devices: { 'm7/bf2': { flashFails: { next: 1 } } } });
    await client.setFaults({ devices: { bf2: {} } }, faultToken);
    expect(logs).not.toContain(faultToken);
  });

  it('does not exist on an agent started without the simulator option (the production entry point)', async () => {
    const prod = await startAgent({
      id: 'm9',
      host: '127.0.0.1',
      port: 0,
      token,
      machine: { systemId: 'm9', devices },
      profiles: loadProfiles(),
      publicKeyPem: keys.publicKeyPem,
      kernel: 'off',
      stateDir: `${cache}/state-m9`,
      logger: pino({ level: 'silent' }),
    });
    try {
      const c = new AgentClient(prod.url, token);
      await expect(c.setFaults(faults, token)).rejects.toMatchObject({ status: 404, code: 'not_found' });
      await expect(c.setFaults(faults, faultToken)).rejects.toMatchObject({ status: 401 });
      expect(prod.faults.all()).toEqual({});
    } finally {
      await prod.close();
    }
  });

  it('refuses a fault token that is short or the agent token itself', async () => {
    const base = {
      id: 'm10',
      host: '127.0.0.1',
      port: 0,
      token,
      machine: { systemId: 'm10', devices: [] },
      profiles: [],
      publicKeyPem: keys.publicKeyPem,
      kernel: 'off' as const,
      logger: pino({ level: 'silent' }),
    };
    await expect(startAgent({ ...base, simulator: { faultToken: 'short' } })).rejects.toMatchObject({
      code: 'invalid_option',
      field: 'simulator.faultToken',
    });
    await expect(startAgent({ ...base, token: faultToken, simulator: { faultToken } })).rejects.toMatchObject({
      code: 'invalid_option',
      field: 'simulator.faultToken',
    });
  });
});

describe('agent flash belongs to the device, not to the request', () => {
  // flower -> bpf on an Agilio: write 2 s + activate 15 s, scaled to about 340 ms.
  const nic = device('agilio-cx-flower', { machine: 'm8', name: 'nfp0', interfaces: [] });
  let slow: RunningAgent;
  let c: AgentClient;
  const digest = sha256Hex(Buffer.from('agilio bpf 2.1'));
  const image = {
    profileId: 'netronome-agilio-cx-bpf-2.1',
    version: '2.1',
    digest,
    signature: signArtifact(digest, keys.privateKeyPem),
    bytes: Buffer.from('agilio bpf 2.1').toString('base64'),
  };
  const firmware = async () => (await c.programs()).devices.find((d) => d.deviceId === 'm8/nfp0')!.firmware!;

  beforeEach(async () => {
    slow = await startAgent({
      id: 'm8',
      host: '127.0.0.1',
      port: 0,
      token,
      machine: { systemId: 'm8', devices: [nic] },
      profiles: loadProfiles(),
      publicKeyPem: keys.publicKeyPem,
      timeScale: 0.02,
      kernel: 'off',
      stateDir: `${cache}/state-m8`,
      logger: pino({ level: 'silent' }),
    });
    c = new AgentClient(slow.url, token);
  });
  afterEach(() => slow.close());

  it('a repeated request for the image being written waits for that write instead of writing again', async () => {
    const [a, b] = await Promise.all([
      c.flash('m8/nfp0', { image }),
      new Promise((r) => setTimeout(r, 50)).then(() => c.flash('m8/nfp0', { image })),
    ]);
    expect([a.status, b.status]).toEqual(['committed', 'committed']);
    const fw = await firmware();
    expect(fw.profileId).toBe('netronome-agilio-cx-bpf-2.1');
    expect(fw.slots.reduce((n, s) => n + (s.writes ?? 0), 0)).toBe(1);
    expect((await c.flash('m8/nfp0', { image })).status).toBe('already_active');
  });

  it('a client that goes away does not stop the flash: it runs to the end on the device', async () => {
    const ac = new AbortController();
    const gone = c.flash('m8/nfp0', { image }, ac.signal).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 50));
    expect((await firmware()).updating).toBe(true);
    ac.abort();
    expect(await gone).toMatchObject({ name: 'AbortError' });
    const end = Date.now() + 5_000;
    while ((await firmware()).updating && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const fw = await firmware();
    expect({ profileId: fw.profileId, updating: fw.updating, writes: fw.slots.map((s) => s.writes) }).toEqual({
      profileId: 'netronome-agilio-cx-bpf-2.1',
      updating: false,
      writes: [0, 1],
    });
  });
});
