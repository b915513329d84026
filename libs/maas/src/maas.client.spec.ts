import {
  MaasAuthError,
  MaasClient,
  MaasClientOptions,
  MaasConflictError,
  MaasError,
  MaasForbiddenError,
  MaasNotFoundError,
  MaasUnavailableError,
  MaasValidationError,
  RetryInfo,
} from './index';
import { ScriptedMaas, TEST_API_KEY, TEST_KEY } from './testing/scripted-maas.server';
import hostJson from './testing/machine-host.fixture.json';
import devicesJson from './testing/devices-host.fixture.json';

const machine = (over: Record<string, unknown> = {}) => ({ ...structuredClone(hostJson), ...over });

describe('MaasClient over HTTP', () => {
  const maas = new ScriptedMaas();
  let url: string;
  const clients: MaasClient[] = [];

  const client = (over: Partial<MaasClientOptions> = {}) => {
    const c = new MaasClient({
      url,
      apiKey: TEST_API_KEY,
      timeoutMs: 2000,
      retry: { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 20 },
      breaker: { consecutiveFailures: 50, halfOpenAfterMs: 100 },
      ...over,
    });
    clients.push(c);
    return c;
  };

  const failure = async (p: Promise<unknown>): Promise<MaasError> => {
    try {
      await p;
    } catch (err) {
      return err as MaasError;
    }
    throw new Error('expected the call to fail');
  };

  beforeAll(async () => {
    url = await maas.start();
  });
  afterEach(() => maas.reset());
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await maas.close();
  });

  describe('auth and encoding', () => {
    it('signs with the PLAINTEXT header and reads whoami', async () => {
      maas.script({ json: { username: 'ioplane', email: 'x@y', is_superuser: true, extra: 1 } });
      await expect(client().whoami()).resolves.toMatchObject({ username: 'ioplane', is_superuser: true });
      const [req] = maas.requests;
      expect(req.method).toBe('GET');
      expect(req.path).toBe('users/');
      expect(req.rawQuery).toBe('op=whoami');
      expect(req.headers.authorization).toMatch(
        new RegExp(
          '^OAuth realm="MAAS API", oauth_version="1.0", oauth_signature_method="PLAINTEXT", ' +
            `oauth_consumer_key="${TEST_KEY.consumer}", oauth_token="${TEST_KEY.token}", ` +
            `oauth_signature="%26${TEST_KEY.secret}", oauth_nonce="[0-9a-f]{32}", oauth_timestamp="\\d{10}"$`,
        ),
      );
      expect(Math.abs(Number(req.oauth!.oauth_timestamp) - Date.now() / 1000)).toBeLessThan(5);
      expect(req.headers.accept).toBe('application/json');
    });

    it('reads version/ anonymously, from a base url given with or without api/2.0', async () => {
      const body = { capabilities: ['networks-management'], version: '3.5.4', subversion: '3.5.4-1-g' };
      maas.script({ json: body }, { json: body });
      await expect(client().version()).resolves.toEqual(body);
      await expect(client({ url: `${url}api/2.0` }).version()).resolves.toEqual(body);
      expect(maas.requests.map((r) => r.path)).toEqual(['version/', 'version/']);
      expect(maas.requests[0].headers.authorization).toBeUndefined();
    });

    it('sends machine filters as repeated query keys', async () => {
      maas.script({ json: [machine()] });
      const list = await client().listMachines({
        tags: ['ioplane', 'smartnic'],
        zone: 'zone-1',
        status: 'deployed',
        not_in_pool: ['lab', 'spare'],
        hostname: undefined,
      });
      expect(list.map((m) => m.system_id)).toEqual(['x7kq3p']);
      const [req] = maas.requests;
      expect(req.path).toBe('machines/');
      expect(req.rawQuery).toBe('tags=ioplane&tags=smartnic&zone=zone-1&status=deployed&not_in_pool=lab&not_in_pool=spare');
    });

    it('posts form-encoded bodies with op in the query string', async () => {
      maas.script({ json: machine({ status: 10, status_name: 'Allocated' }) }, { json: machine({ status: 9 }) });
      const c = client();
      await c.allocate({ tags: ['ioplane', 'smartnic'], zone: 'zone-1', agent_name: 'ioplane' });
      await c.deploy('x7kq3p', { distro_series: 'jammy', user_data: Buffer.from('#cloud-config\n').toString('base64') });
      const [alloc, deploy] = maas.requests;
      expect([alloc.method, alloc.path, alloc.rawQuery]).toEqual(['POST', 'machines/', 'op=allocate']);
      expect(alloc.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(alloc.body).toBe('tags=ioplane&tags=smartnic&zone=zone-1&agent_name=ioplane');
      expect([deploy.method, deploy.path, deploy.rawQuery]).toEqual(['POST', 'machines/x7kq3p/', 'op=deploy']);
      expect(deploy.form.get('distro_series')).toBe('jammy');
      expect(Buffer.from(deploy.form.get('user_data')!, 'base64').toString()).toBe('#cloud-config\n');
    });

    it('sends GET ops as ?op= and escapes path segments', async () => {
      maas.script({ json: [] }, { json: { count: 0, events: [] } });
      const c = client();
      await c.tagMachines('dpu/bluefield');
      await c.queryEvents({ after: 10, limit: 1000, level: 'DEBUG', hostname: ['a', 'b'] });
      expect(maas.requests[0].path).toBe('tags/dpu%2Fbluefield/');
      expect(maas.requests[0].rawQuery).toBe('op=machines');
      expect(maas.requests[1].rawQuery).toBe('op=query&after=10&limit=1000&level=DEBUG&hostname=a&hostname=b');
    });

    it('loads a machine with its PCI inventory as a domain Machine', async () => {
      maas.fallback = (req) =>
        req.path === 'machines/x7kq3p/'
          ? { json: machine() }
          : req.path === 'nodes/x7kq3p/devices/'
            ? { json: structuredClone(devicesJson) }
            : { status: 404, text: 'nope' };
      const m = await client().loadMachine('x7kq3p');
      expect(m.systemId).toBe('x7kq3p');
      expect(m.pciDevices.map((d) => `${d.vendorId}:${d.productId}`)).toEqual(['8086:1572', '19ee:4000', '15b3:a2d6']);
    });

    it('sets workload annotations, falling back to set_owner_data on older MAAS', async () => {
      maas.script({ status: 400, text: 'Unrecognised signature: method=POST op=set_workload_annotations' }, { json: machine() });
      await client().setWorkloadAnnotations('x7kq3p', { 'ioplane/placement': 'xdp-lb@nfp0', stale: '' });
      expect(maas.requests.map((r) => r.rawQuery)).toEqual(['op=set_workload_annotations', 'op=set_owner_data']);
      expect(maas.requests[1].body).toBe('ioplane%2Fplacement=xdp-lb%40nfp0&stale=');
    });
  });

  describe('retries', () => {
    it('retries a 503 with Retry-After (capped at maxDelayMs) and re-signs with a fresh nonce', async () => {
      maas.script({ status: 503, text: 'rack unreachable', headers: { 'Retry-After': '10' } }, { json: [] });
      const retries: RetryInfo[] = [];
      const started = Date.now();
      await expect(client({ onRetry: (i) => retries.push(i) }).listTags()).resolves.toEqual([]);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(maas.requests).toHaveLength(2);
      const [n1, n2] = maas.requests.map((r) => r.oauth!.oauth_nonce);
      expect(n1).not.toBe(n2);
      expect(retries).toEqual([{ attempt: 1, delayMs: 20, reason: expect.stringContaining('503'), path: 'GET tags/' }]);
    });

    it('retries a 409 that carries Retry-After, even for POST', async () => {
      maas.script({ status: 409, text: 'database conflict', headers: { 'Retry-After': '5' } }, { json: machine() });
      await expect(client().release('x7kq3p')).resolves.toMatchObject({ system_id: 'x7kq3p' });
      expect(maas.requests).toHaveLength(2);
    });

    it('gives up on a 503 storm with MaasUnavailableError after maxAttempts', async () => {
      maas.fallback = () => ({ status: 503, text: 'down', headers: { 'Retry-After': '10' } });
      const started = Date.now();
      const err = await failure(client({ retry: { maxAttempts: 4, initialDelayMs: 1, maxDelayMs: 10 } }).listZones());
      expect(Date.now() - started).toBeLessThan(2000);
      expect(err).toBeInstanceOf(MaasUnavailableError);
      expect((err as MaasUnavailableError).attempts).toBe(4);
      expect(err.code).toBe('unavailable');
      expect(err.status).toBe(503);
      expect(maas.requests).toHaveLength(4);
    });

    it('retries a GET after a connection reset', async () => {
      maas.script('reset', { json: [] });
      await expect(client().listPools()).resolves.toEqual([]);
      expect(maas.requests).toHaveLength(2);
    });

    it('retries a GET that times out, then reports the timeout', async () => {
      maas.fallback = () => 'hang';
      const err = await failure(
        client({ timeoutMs: 100, retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 5 } }).getMachine('x7kq3p'),
      );
      expect(err).toBeInstanceOf(MaasUnavailableError);
      expect(err.message).toMatch(/timed out after 100 ms/);
      expect(maas.requests).toHaveLength(2);
    });

    it('retries a GET on 504 but never a POST', async () => {
      maas.script({ status: 504, text: 'gateway timeout' }, { json: machine() });
      await client().getMachine('x7kq3p');
      expect(maas.requests).toHaveLength(2);

      maas.reset();
      maas.fallback = () => ({ status: 504, text: 'gateway timeout' });
      const err = await failure(client().deploy('x7kq3p'));
      expect(err).toBeInstanceOf(MaasUnavailableError);
      expect((err as MaasUnavailableError).attempts).toBe(1);
      expect(maas.requests).toHaveLength(1);
    });

    it('does not replay a deploy after a connection reset (it may have been applied)', async () => {
      maas.fallback = () => 'reset';
      const err = await failure(client().deploy('x7kq3p'));
      expect(err).toBeInstanceOf(MaasUnavailableError);
      expect(maas.requests).toHaveLength(1);
    });

    it('repeats a release after a connection reset (releasing twice is harmless)', async () => {
      maas.script('reset', { json: machine({ status: 4, status_name: 'Ready' }) });
      await expect(client().release('x7kq3p')).resolves.toMatchObject({ status: 4 });
      expect(maas.requests.map((r) => r.rawQuery)).toEqual(['op=release', 'op=release']);
    });

    it('retries a refused connection', async () => {
      const dead = new ScriptedMaas();
      const deadUrl = await dead.start();
      await dead.close();
      const retries: RetryInfo[] = [];
      const err = await failure(client({ url: deadUrl, onRetry: (i) => retries.push(i) }).deploy('x7kq3p'));
      expect(err).toBeInstanceOf(MaasUnavailableError);
      expect(err.message).toContain('ECONNREFUSED');
      expect(retries).toHaveLength(2);
    });

    it('stops when the caller aborts', async () => {
      maas.fallback = () => 'hang';
      const ac = new AbortController();
      const p = client().listTags({ signal: ac.signal });
      setTimeout(() => ac.abort(new Error('caller gave up')), 30);
      await expect(p).rejects.toThrow('caller gave up');
      expect(maas.requests).toHaveLength(1);
    });
  });

  describe('typed errors (never retried)', () => {
    it('401: one request, message carries the body but not the secret', async () => {
      const err = await failure(client({ apiKey: `${TEST_KEY.consumer}:${TEST_KEY.token}:wrongSecretXYZ` }).whoami());
      expect(err).toBeInstanceOf(MaasAuthError);
      expect(err.code).toBe('auth');
      expect(err.status).toBe(401);
      expect(err.message).toBe('MAAS rejected the API key (401): Authorization Error: Invalid API key.');
      expect(err.message).not.toContain('wrongSecretXYZ');
      expect(maas.requests).toHaveLength(1);
    });

    it('401: a server echoing the secret does not leak it into the error', async () => {
      maas.script({ status: 401, text: `token ${TEST_KEY.token} with secret ${TEST_KEY.secret} expired` });
      const err = await failure(client().whoami());
      expect(err).toBeInstanceOf(MaasAuthError);
      expect(err.message).not.toContain(TEST_KEY.secret);
      expect(err.message).not.toContain(TEST_KEY.token);
      expect(String(err.stack)).not.toContain(TEST_KEY.secret);
    });

    it('404 -> MaasNotFoundError', async () => {
      maas.script({ status: 404, text: 'No Machine matches the given query.' });
      const err = await failure(client().getMachine('nope'));
      expect(err).toBeInstanceOf(MaasNotFoundError);
      expect(err).toMatchObject({ code: 'not_found', status: 404, path: 'GET machines/nope/' });
      expect(err.message).toContain('No Machine matches the given query.');
      expect(maas.requests).toHaveLength(1);
    });

    it('400 JSON -> MaasValidationError with fieldErrors', async () => {
      maas.script({ status: 400, json: { tags: ["No such tag(s): 'foo'."] } });
      const err = await failure(client().listMachines({ tags: 'foo' }));
      expect(err).toBeInstanceOf(MaasValidationError);
      expect(err).toMatchObject({ code: 'validation', status: 400, field: 'tags', fieldErrors: { tags: ["No such tag(s): 'foo'."] } });
      expect(err.message).toContain("tags: No such tag(s): 'foo'.");
      expect(maas.requests).toHaveLength(1);
    });

    it('400 text -> MaasValidationError with a non-field error', async () => {
      maas.script({ status: 400, text: 'Unrecognised signature: method=POST op=lock' });
      const err = await failure(client().lock('x7kq3p'));
      expect(err).toBeInstanceOf(MaasValidationError);
      expect(err.fieldErrors).toEqual({ __all__: ['Unrecognised signature: method=POST op=lock'] });
    });

    it('403 -> MaasForbiddenError, 409 without Retry-After -> MaasConflictError', async () => {
      maas.script({ status: 403, text: 'Machine is locked' }, { status: 409, text: 'No machine matching the constraints' });
      const c = client();
      expect(await failure(c.release('x7kq3p'))).toBeInstanceOf(MaasForbiddenError);
      const conflict = await failure(c.allocate({ tags: 'gpu' }));
      expect(conflict).toBeInstanceOf(MaasConflictError);
      expect(conflict.code).toBe('conflict');
      expect(maas.requests).toHaveLength(2);
    });

    it('a malformed body -> bad_response naming the field', async () => {
      const broken = machine();
      delete (broken as Record<string, unknown>).system_id;
      maas.script({ json: [machine({ is_dpu: null, pod: null, brand_new_field: { x: 1 } }), broken] });
      const err = await failure(client().listMachines());
      expect(err).toBeInstanceOf(MaasError);
      expect(err.code).toBe('bad_response');
      expect(err.field).toBe('[1].system_id');
      expect(err.message).toContain('[1].system_id');
    });

    it('a body that is not JSON -> bad_response', async () => {
      maas.script({ status: 200, text: '<html>proxy login</html>' });
      const err = await failure(client().listZones());
      expect(err.code).toBe('bad_response');
    });
  });

  describe('circuit breaker', () => {
    it('opens after consecutive failures, fails fast, then recovers half-open', async () => {
      const c = client({
        retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 2 },
        breaker: { consecutiveFailures: 2, halfOpenAfterMs: 150 },
      });
      maas.fallback = () => ({ status: 503, text: 'down' });
      for (let i = 0; i < 2; i++) {
        const err = await failure(c.listTags());
        expect((err as MaasUnavailableError).attempts).toBe(2);
      }
      expect(maas.requests).toHaveLength(4);

      const fast = await failure(c.listTags());
      expect(fast).toBeInstanceOf(MaasUnavailableError);
      expect(fast.message).toContain('circuit open');
      expect((fast as MaasUnavailableError).attempts).toBe(0);
      expect(maas.requests).toHaveLength(4);
      expect(c.circuitState).toBe('open');

      await new Promise((r) => setTimeout(r, 200));
      maas.fallback = () => ({ json: [] });
      await expect(c.listTags()).resolves.toEqual([]);
      expect(c.circuitState).toBe('closed');
      await expect(c.listTags()).resolves.toEqual([]);
      expect(maas.requests).toHaveLength(6);
    });

    it('is not tripped by rejections such as 404', async () => {
      const c = client({ breaker: { consecutiveFailures: 2, halfOpenAfterMs: 10_000 } });
      maas.fallback = () => ({ status: 404, text: 'No Machine matches the given query.' });
      for (let i = 0; i < 3; i++) expect(await failure(c.getMachine('gone'))).toBeInstanceOf(MaasNotFoundError);
      expect(maas.requests).toHaveLength(3);
    });
  });
});
