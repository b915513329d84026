import { Harness, http, startHarness } from './harness';

type Operation = {
  requestBody?: unknown;
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
  'x-ioplane-body'?: string;
};

/**
 * Every operation in /docs-json documents its answer (a schema per 2xx) and, when it changes
 * something, its request body or that it takes none. The schemas are the ones the contract check
 * validates every e2e answer against (IOPLANE_CHECK_RESPONSES=on in the harness).
 */
describe('the API contract in /docs-json', () => {
  let h: Harness;
  let paths: Record<string, Record<string, Operation>>;

  beforeAll(async () => {
    h = await startHarness({ agents: false, worker: false });
    paths = (await http(h.apiUrl, 'GET', '/docs-json')).body.paths;
  }, 60_000);
  afterAll(async () => h?.stop());

  it('documents a response schema for every operation', () => {
    const missing = Object.entries(paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(
          ([, op]) =>
            !Object.entries(op.responses ?? {}).some(
              ([code, r]) => code.startsWith('2') && Object.values(r.content ?? {}).some((c) => c.schema),
            ),
        )
        .map(([method]) => `${method.toUpperCase()} ${path}`),
    );
    expect(missing).toEqual([]);
    expect(Object.keys(paths).length).toBeGreaterThan(20);
  });

  it('documents a request body for every write, or says it takes none', () => {
    const missing = Object.entries(paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([method, op]) => ['post', 'put', 'patch'].includes(method) && !op.requestBody && op['x-ioplane-body'] !== 'none')
        .map(([method]) => `${method.toUpperCase()} ${path}`),
    );
    expect(missing).toEqual([]);
  });

  it('documents the placement request and answer of the main endpoint', () => {
    const op = paths['/v1/placements'].post as Operation & {
      requestBody: { content: Record<string, { schema: { properties: Record<string, unknown> } }> };
    };
    expect(Object.keys(op.requestBody.content['application/json'].schema.properties)).toEqual(
      expect.arrayContaining(['selector', 'modules', 'policy', 'ingress']),
    );
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '202']));
  });
});
