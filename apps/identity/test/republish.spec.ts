import { randomUUID } from 'node:crypto';
import { CONTEXT_HEADER } from '@tessera/contracts';
import { requestRepublish } from '@tessera/service-kit';
import { VENDORS_PER_TRANSACTION } from '../src/republish/republish.service';
import { expectProblem, IdentityHarness, INTERNAL_SECRET, type SignedUp } from './support/identity-harness';

interface OutboxEvent {
  id: string;
  type: string;
  subject: string;
  tenantid: string;
  data: Record<string, unknown>;
}

describe('republish (operator route POST /internal/republish)', () => {
  let h: IdentityHarness;
  beforeAll(async () => {
    h = await IdentityHarness.start();
  });
  afterAll(async () => {
    await h.close();
  });

  const republish = async (body?: unknown) => {
    const req = h.http.post('/internal/republish').set(await h.internalHeaders());
    return body === undefined ? req : req.send(body as object);
  };

  /** The tenant's outbox events, oldest first, with the transaction (xmin) that wrote each. */
  async function events(tenantId: string): Promise<(OutboxEvent & { tx: string })[]> {
    const { rows } = await h.admin.query<{ envelope: OutboxEvent; tx: string }>(
      'SELECT envelope, xmin::text AS tx FROM identity.outbox_events WHERE tenant_id = $1 ORDER BY seq',
      [tenantId],
    );
    return rows.map((r) => ({ ...r.envelope, tx: r.tx }));
  }

  async function allEventsCount(): Promise<number> {
    const { rows } = await h.admin.query<{ n: number }>('SELECT count(*)::int AS n FROM identity.outbox_events');
    return rows[0].n;
  }

  async function mallWithVendors(names: string[]): Promise<{ mall: SignedUp; vendors: { id: string; name: string }[] }> {
    const mall = await h.signup({ type: 'mall' });
    const headers = await h.userHeaders(h.ownerOf(mall));
    const vendors = [];
    for (const [i, name] of names.entries()) {
      const res = await h.http.post('/v1/vendors').set(headers).send({ name, commissionRate: 1000 + i });
      expect(res.status).toBe(201);
      vendors.push({ id: res.body.id as string, name });
    }
    return { mall, vendors };
  }

  it("writes one tenant's current state through the outbox: identity.tenant.created as it is now, then every vendor's identity.vendor.created", async () => {
    const { mall, vendors } = await mallWithVendors(['North', 'South']);
    await h.setTenantStatus(mall.tenantId, 'active', 'paid');
    const before = await events(mall.tenantId);

    const res = await republish({ tenantId: mall.tenantId });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ tenants: 1, vendors: 2 });

    const added = (await events(mall.tenantId)).slice(before.length);
    const byId = [...vendors].sort((a, b) => a.id.localeCompare(b.id));
    expect(added.map((e) => [e.type, e.subject])).toEqual([
      ['identity.tenant.created', mall.tenantId],
      ...byId.map((v) => ['identity.vendor.created', v.id]),
    ]);
    // The current state (status active, not the trial it was created with), shaped as signup and vendor creation shape it.
    const created = before.find((e) => e.type === 'identity.tenant.created') as OutboxEvent;
    expect(added[0].data).toEqual({ ...created.data, status: 'active' });
    for (const [i, v] of byId.entries()) {
      const original = before.find((e) => e.type === 'identity.vendor.created' && e.subject === v.id) as OutboxEvent;
      expect(added[i + 1].data).toEqual(original.data);
      expect(added[i + 1]).toMatchObject({ tenantid: mall.tenantId, data: { tenantId: mall.tenantId, vendorId: v.id, name: v.name } });
    }
    // New events (new ids, so consumers' inboxes take them), in one transaction for a small tenant.
    expect(added.map((e) => e.id).filter((id) => before.some((b) => b.id === id))).toEqual([]);
    expect(new Set(added.map((e) => e.tx)).size).toBe(1);
  });

  it('without a tenantId visits every tenant once, a big mall in several transactions of bounded size', async () => {
    const single = await h.signup();
    const { mall } = await mallWithVendors([]);
    // More vendors than one transaction takes (inserted directly: the route would make this test slow).
    const extra = VENDORS_PER_TRANSACTION + 3;
    await h.admin.query(
      `INSERT INTO identity.vendors (id, tenant_id, name, commission_rate) SELECT gen_random_uuid(), $1, 'V' || n, 500 FROM generate_series(1, $2::int) n`,
      [mall.tenantId, extra],
    );
    const { rows } = await h.admin.query<{ tenants: number; vendors: number }>(
      'SELECT (SELECT count(*)::int FROM identity.tenants) AS tenants, (SELECT count(*)::int FROM identity.vendors) AS vendors',
    );
    const [singleBefore, mallBefore] = [await events(single.tenantId), await events(mall.tenantId)];

    const res = await republish(); // no body at all: every tenant
    expect(res.status).toBe(200);
    expect(res.body).toEqual(rows[0]);

    const singleAdded = (await events(single.tenantId)).slice(singleBefore.length);
    expect(singleAdded.map((e) => e.type)).toEqual(['identity.tenant.created']);
    const mallAdded = (await events(mall.tenantId)).slice(mallBefore.length);
    expect(mallAdded[0].type).toBe('identity.tenant.created');
    const vendorEvents = mallAdded.slice(1);
    expect(vendorEvents).toHaveLength(extra);
    expect(new Set(vendorEvents.map((e) => e.subject)).size).toBe(extra);
    expect(vendorEvents.every((e) => e.type === 'identity.vendor.created')).toBe(true);
    // Keyset batches: the first transaction holds the tenant and VENDORS_PER_TRANSACTION vendors, the next the rest.
    const perTx = [...mallAdded.reduce((m, e) => m.set(e.tx, (m.get(e.tx) ?? 0) + 1), new Map<string, number>()).values()];
    expect(perTx).toEqual([VENDORS_PER_TRANSACTION + 1, 3]);

    expect((await republish({})).body).toEqual(rows[0]);
  });

  describe('bad input gets a 4xx problem+json and writes nothing', () => {
    it.each([
      ['a malformed tenantId', 400, { tenantId: 'not-a-uuid' }],
      ['a tenantId of the wrong type', 400, { tenantId: 42 }],
      ['a null tenantId (never read as every tenant)', 400, { tenantId: null }],
      ['an unknown field', 400, { tenant: randomUUID() }],
      ['a body that is not an object', 400, ['x']],
      ['an unknown tenant', 404, { tenantId: randomUUID() }],
    ])('%s → %d', async (_label, status, body) => {
      const before = await allEventsCount();
      const res = await republish(body);
      expectProblem(res, status);
      if (status === 400 && !Array.isArray(body)) expect((res.body.errors as { field: string }[]).map((e) => e.field)).toEqual([Object.keys(body)[0]]);
      expect(await allEventsCount()).toBe(before);
    });

    it("refuses a tenant's users and API keys and anonymous contexts (403), and no context (401)", async () => {
      const t = await h.signup();
      const before = await allEventsCount();
      for (const headers of [
        await h.userHeaders(h.ownerOf(t)),
        { [CONTEXT_HEADER]: await h.context({ tenantId: t.tenantId, principalId: randomUUID(), principalType: 'api_key', scopes: ['tenants:write'] }) },
        { [CONTEXT_HEADER]: await h.context({ tenantId: t.tenantId }) },
        { [CONTEXT_HEADER]: await h.context({ principalId: randomUUID() }) },
        // the anonymous context of every public request (signup, login) is not the internal credential
        await h.anonymousHeaders(),
      ]) {
        expectProblem(await h.http.post('/internal/republish').set(headers).send({ tenantId: t.tenantId }), 403);
      }
      expectProblem(await h.http.post('/internal/republish').send({ tenantId: t.tenantId }), 401);
      expect(await allEventsCount()).toBe(before);
    });
  });

  it('the identity:republish tool calls the route over HTTP with the internal secret', async () => {
    const t = await h.signup();
    const baseUrl = (await h.app.getUrl()).replace('[::1]', '127.0.0.1');
    expect(await requestRepublish({ baseUrl, internalTokenSecret: INTERNAL_SECRET, tenantId: t.tenantId })).toEqual({
      status: 200,
      body: { tenants: 1, vendors: 0 },
    });
    expect((await requestRepublish({ baseUrl, internalTokenSecret: INTERNAL_SECRET, tenantId: 'nope' })).status).toBe(400);
    expect((await requestRepublish({ baseUrl, internalTokenSecret: 'another-secret-of-at-least-32-characters', tenantId: t.tenantId })).status).toBe(401);
  });
});
