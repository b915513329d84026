import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { Harness, http, startHarness, syncFleet } from '../harness';

const EXAMPLE = parse(readFileSync('placements/example.yaml', 'utf8'));

describe('the same Idempotency-Key with two bodies', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ agents: false });
    await syncFleet(h);
  }, 60_000);
  afterAll(async () => {
    await h?.stop();
  });

  it('returns the first placement for the same body and 409 naming the key for another', async () => {
    const key = `idem-${Date.now()}`;
    const body = { ...EXAMPLE, selector: { hostnames: ['edge-a01'] } };
    const first = await http(h.apiUrl, 'POST', '/v1/placements', body, { 'idempotency-key': key });
    expect(first.status).toBe(202);

    // Same request, fields in another order: the same placement, not a second one.
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    const again = await http(h.apiUrl, 'POST', '/v1/placements', reordered, { 'idempotency-key': key });
    expect({ status: again.status, id: again.body.id, created: again.body.created }).toEqual({
      status: 200,
      id: first.body.id,
      created: false,
    });

    const other = await http(
      h.apiUrl,
      'POST',
      '/v1/placements',
      { ...body, selector: { hostnames: ['edge-b02'] } },
      { 'idempotency-key': key },
    );
    expect(other.status).toBe(409);
    expect(other.body.error).toMatchObject({ code: 'idempotency_conflict', field: 'Idempotency-Key' });
    expect(other.body.error.message).toContain(key);
    expect(other.body.error.message).toContain(first.body.id);

    // Nothing was stored for the refused request.
    const list = await http(h.apiUrl, 'GET', '/v1/placements');
    expect(
      list.body.items.filter((p: { idempotencyKey: string | null }) => p.idempotencyKey === key).map((p: { id: string }) => p.id),
    ).toEqual([first.body.id]);
  });
});
