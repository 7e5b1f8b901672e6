import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { documentedClient, type ContractChecker } from './contract';
import { type client, eventually, removeDataDir, signUp, startPlatform, type ApiResponse, type Platform } from './platform';
import { receiveStock } from './stock';

/**
 * Every operation whose OpenAPI entry documents `Idempotency-Key`, called through the gateway by a client that
 * retries at once: the same request 12 times concurrently with one key. Exactly one resource comes of it; every
 * answer is that resource (first or replayed) or 409 while the first is still running; the same key with another
 * body (or for another resource) is refused. The walk fails when a documented operation has no request here, so a
 * new one gets covered.
 */
describe('Idempotency-Key under concurrent retries (walks /openapi.json)', () => {
  let platform: Platform & { startupMs: number };
  let api: ReturnType<typeof client>;
  let checker: ContractChecker;
  let token: string;
  let locationId: string;
  const slug = `idem-${randomUUID().slice(0, 8)}`;
  const password = 'correct horse battery staple';

  beforeAll(async () => {
    platform = await startPlatform({ RATE_LIMIT_ADDRESS_POINTS: '1000000', RATE_LIMIT_TENANT_POINTS: '1000000' });
    ({ api, checker } = await documentedClient(platform.baseUrl));
    ({ token } = await signUp(api, { slug, type: 'mall', defaultCurrency: 'EUR', password }));
    await api('POST', '/v1/products', { token, body: { title: 'Brick', status: 'active', variants: [{ sku: 'IDEM-1', priceAmount: 100, currency: 'EUR' }] } });
    locationId = (await api('POST', '/v1/inventory/locations', { token, body: { code: 'MAIN', name: 'Main' } })).body.id;
    expect((await receiveStock(api, token, { sku: 'IDEM-1', locationId, quantity: 50 })).status).toBe(201);
  });

  afterAll(async () => {
    if (platform) {
      await platform.stop();
      removeDataDir(platform);
    }
  });

  /** A failed payment to try again: an order placed, its payment opened by the saga, then failed by staff. */
  const failedPayment = async (): Promise<{ id: string; orderId: string }> => {
    const order = await api('POST', '/v1/orders', {
      token,
      body: { items: [{ sku: 'IDEM-1', quantity: 1 }], customer: { name: 'P', email: 'p@idem.test' }, paymentMethod: 'card' },
    });
    expect(order.status).toBe(202);
    const payment = await eventually(async () => {
      const res = await api('GET', `/v1/payments?orderId=${order.body.id}`, { token });
      return res.body.items?.[0] as { id: string } | undefined;
    }, 'the order\'s payment');
    expect((await api('POST', `/v1/payments/${payment.id}/fail`, { token, body: { reason: 'card declined' } })).status).toBe(200);
    return { id: payment.id, orderId: order.body.id };
  };

  /**
   * A valid request per operation, a different request for the same key, and how to count what it created. Most
   * differ by body; an operation on a resource in its path (`path`) differs by that resource (`otherPath`).
   */
  interface Case {
    body?: unknown;
    other?: unknown;
    path?: string;
    otherPath?: string;
    count: () => Promise<number>;
  }
  const requests = async (): Promise<Record<string, Case>> => {
    const items = (path: string) => async () => ((await api('GET', path, { token })).body.items as unknown[]).length;
    const onHand = async () => (await api('GET', '/v1/inventory/levels?sku=IDEM-1', { token })).body.items[0].onHand as number;
    const [retried, another] = [await failedPayment(), await failedPayment()];
    // A signup creates a tenant no caller of this one can list: counted in the database.
    const signupSlug = `idem-new-${randomUUID().slice(0, 8)}`;
    const tenantsNamed = async () => {
      const db = new Client({ connectionString: platform.adminUrl() });
      await db.connect();
      try {
        return (await db.query('SELECT count(*)::int AS n FROM identity.tenants WHERE slug = $1', [signupSlug])).rows[0].n as number;
      } finally {
        await db.end();
      }
    };
    const signup = (password: string) => ({ name: 'New', slug: signupSlug, owner: { email: `owner@${signupSlug}.test`, password, name: 'O' } });
    return {
      'POST /v1/tenants': { body: signup('a long enough password'), other: signup('another long password'), count: tenantsNamed },
      'POST /v1/products': {
        body: { title: 'Plate', variants: [{ sku: 'IDEM-2', priceAmount: 50, currency: 'EUR' }] },
        other: { title: 'Plate', variants: [{ sku: 'IDEM-3', priceAmount: 50, currency: 'EUR' }] },
        count: items('/v1/products'),
      },
      'POST /v1/orders': {
        body: { items: [{ sku: 'IDEM-1', quantity: 1 }], customer: { name: 'C', email: 'c@idem.test' }, paymentMethod: 'bank_transfer' },
        other: { items: [{ sku: 'IDEM-1', quantity: 2 }], customer: { name: 'C', email: 'c@idem.test' }, paymentMethod: 'bank_transfer' },
        count: items('/v1/orders'),
      },
      'POST /v1/inventory/locations': { body: { code: 'BIN-1', name: 'Bin' }, other: { code: 'BIN-2', name: 'Bin' }, count: items('/v1/inventory/locations') },
      'POST /v1/inventory/movements': {
        body: { type: 'receive', sku: 'IDEM-1', locationId, quantity: 5 },
        other: { type: 'receive', sku: 'IDEM-1', locationId, quantity: 6 },
        count: onHand,
      },
      'POST /v1/users': {
        body: { email: `u@${slug}.test`, name: 'U', role: 'staff', password },
        other: { email: `v@${slug}.test`, name: 'V', role: 'staff', password },
        count: items('/v1/users'),
      },
      'POST /v1/stores': { body: { name: 'Shop', channel: 'storefront' }, other: { name: 'Shop 2', channel: 'storefront' }, count: items('/v1/stores') },
      'POST /v1/vendors': { body: { name: 'Maker', commissionRate: 1000 }, other: { name: 'Maker', commissionRate: 1500 }, count: items('/v1/vendors') },
      'POST /v1/api-keys': { body: { name: 'ops', scopes: ['orders:read'] }, other: { name: 'ops', scopes: ['orders:write'] }, count: items('/v1/api-keys') },
      'POST /v1/payments/{id}/retry': {
        path: `/v1/payments/${retried.id}/retry`,
        otherPath: `/v1/payments/${another.id}/retry`,
        count: items(`/v1/payments?orderId=${retried.orderId}`),
      },
    };
  };

  it('creates one resource per key, however many retries race, and refuses the key with another body', async () => {
    const spec = (await api('GET', '/openapi.json')).body as {
      paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>>;
    };
    const documented = Object.entries(spec.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => op.parameters?.some((p) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key'))
        .map(([method]) => `${method.toUpperCase()} ${path}`),
    );
    const table = await requests();
    expect(documented.length).toBeGreaterThanOrEqual(6);
    expect(documented.filter((op) => !table[op])).toEqual([]);

    for (const op of documented) {
      const [method, documentedPath] = op.split(' ');
      const { body, other, count, path = documentedPath, otherPath = path } = table[op];
      const key = `retry-${randomUUID()}`;
      const before = await count();
      const answers: ApiResponse[] = await Promise.all(
        Array.from({ length: 12 }, () => api(method, path, { token, body, headers: { 'idempotency-key': key } })),
      );
      const ok = answers.filter((a) => a.status >= 200 && a.status < 300);
      expect({ op, statuses: answers.filter((a) => a.status !== 409 && !ok.includes(a)).map((a) => a.status) }).toEqual({ op, statuses: [] });
      expect(ok.length).toBeGreaterThan(0);
      // Every successful answer is the same resource; a replay says so.
      const ids = new Set(ok.map((a) => a.body.id ?? a.body.tenant?.id ?? JSON.stringify(a.body.levels?.map((l: { onHand: number }) => l.onHand))));
      expect({ op, ids: ids.size }).toEqual({ op, ids: 1 });
      expect(ok.filter((a) => a.headers.get('idempotent-replayed') !== 'true').length).toBe(1);
      // Exactly one resource (or one movement's quantity) was created.
      const created = (await count()) - before;
      expect({ op, created }).toEqual({ op, created: op === 'POST /v1/inventory/movements' ? 5 : 1 });
      // A later retry replays; the same key with another body is refused and changes nothing.
      const retry = await api(method, path, { token, body, headers: { 'idempotency-key': key } });
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      const reused = await api(method, otherPath, { token, body: other, headers: { 'idempotency-key': key } });
      expect({ op, status: reused.status }).toEqual({ op, status: 422 });
      expect(reused.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect((await count()) - before).toBe(created);
    }
  });

  it('answered only as the OpenAPI document describes', () => {
    expect(checker.violations).toEqual([]);
  });
});
