import { randomUUID } from 'node:crypto';
import { ContractChecker, documentedClient, looseTypes, typeContradictions, type OpenApiDocument } from './contract';
import { client, eventually, type ApiResponse, removeDataDir, startPlatform, type Platform } from './platform';
import { receiveStock } from './stock';

/**
 * The merged OpenAPI document is what API consumers generate their clients from, so every answer the platform gives
 * must be what it documents. A tour of every operation through the gateway (each answered at least once with a 2xx,
 * and the usual refusals along the way) checks each answer's status, media type and body against the document,
 * with objects closed: an undocumented field is a violation. A new operation fails the coverage test until the tour
 * calls it.
 */
/** The answer, once its status is the expected one; else a failure that shows the body. */
async function answers(pending: Promise<ApiResponse>, status: number): Promise<ApiResponse> {
  const res = await pending;
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  return res;
}

describe('every answer matches the OpenAPI document (walks /openapi.json)', () => {
  let platform: Platform & { startupMs: number };
  let checker: ContractChecker;
  let doc: OpenApiDocument;
  let api: ReturnType<typeof client>;
  const slug = `contract-${randomUUID().slice(0, 8)}`;
  const password = 'correct horse battery staple';

  beforeAll(async () => {
    platform = await startPlatform({ RATE_LIMIT_ADDRESS_POINTS: '1000000', RATE_LIMIT_TENANT_POINTS: '1000000' });
    ({ api, checker, doc } = await documentedClient(platform.baseUrl));
  });

  afterAll(async () => {
    await platform?.stop();
    if (platform) removeDataDir(platform);
  });

  it('tours every operation, and every answer is the documented one', async () => {
    // Identity: signup (and a taken slug), login (and a wrong password), refresh, me, JWKS.
    const owner = { email: `owner@${slug}.test`, password, name: 'Owner' };
    await answers(api('POST', '/v1/tenants', { body: { name: 'Contract', slug, type: 'mall', defaultCurrency: 'EUR', owner } }), 201);
    await answers(api('POST', '/v1/tenants', { body: { name: 'Again', slug, owner: { ...owner, email: `x@${slug}.test` } } }), 409);
    await answers(api('POST', '/v1/tenants', { body: { name: 'Bad', slug: 'Not A Slug', owner } }), 400);
    await answers(api('POST', '/v1/auth/login', { body: { email: owner.email, password: 'wrong password!' } }), 401);
    const login = await answers(api('POST', '/v1/auth/login', { body: { email: owner.email, password } }), 200);
    const refreshed = await answers(api('POST', '/v1/auth/refresh', { body: { refreshToken: login.body.refreshToken } }), 200);
    await answers(api('POST', '/v1/auth/refresh', { body: { refreshToken: 'not-a-token' } }), 401);
    const token: string = refreshed.body.accessToken;
    const as = (method: string, url: string, body?: unknown, headers?: Record<string, string>) => api(method, url, { token, body, headers });
    await answers(api('GET', '/v1/me'), 401);
    await answers(as('GET', '/v1/me'), 200);
    await answers(api('GET', '/.well-known/jwks.json'), 200);
    const session = await answers(api('POST', '/v1/auth/login', { body: { email: owner.email, password } }), 200);
    await answers(api('POST', '/v1/auth/logout', { body: { refreshToken: session.body.refreshToken } }), 204);
    await answers(api('POST', '/v1/auth/refresh', { body: { refreshToken: session.body.refreshToken } }), 401);

    // Users: create, list, change the role, deactivate; a duplicate email and an unknown id refused.
    const user = await answers(as('POST', '/v1/users', { email: `staff@${slug}.test`, name: 'Staff', role: 'staff', password }), 201);
    await answers(as('POST', '/v1/users', { email: `staff@${slug}.test`, name: 'Again', role: 'staff', password }), 409);
    await answers(as('GET', '/v1/users?limit=1'), 200);
    await answers(as('PATCH', `/v1/users/${user.body.id}`, { role: 'manager' }), 200);
    await answers(as('PATCH', `/v1/users/${randomUUID()}`, { role: 'manager' }), 404);
    await answers(as('POST', `/v1/users/${user.body.id}/deactivate`), 200);

    // Vendors (a mall tenant), stores with marketplace credentials, API keys.
    const vendor = await answers(as('POST', '/v1/vendors', { name: 'Bricks & Co', commissionRate: 1200 }), 201);
    await answers(as('GET', '/v1/vendors'), 200);
    const store = await answers(as('POST', '/v1/stores', {
      name: 'BrickLink shop',
      channel: 'bricklink',
      credentials: { consumerKey: 'ck', consumerSecret: 'cs', tokenValue: 'tv', tokenSecret: 'ts' },
    }), 201);
    await answers(as('POST', '/v1/stores', { name: 'Half', channel: 'bricklink', credentials: { consumerKey: 'ck' } }), 400);
    await answers(as('GET', '/v1/stores'), 200);
    await answers(as('GET', `/v1/stores/${store.body.id}`), 200);
    await answers(as('GET', `/v1/stores/${randomUUID()}`), 404);
    const key = await answers(as('POST', '/v1/api-keys', { name: 'ops', scopes: ['orders:read'] }), 201);
    await answers(as('GET', '/v1/api-keys'), 200);
    await answers(as('DELETE', `/v1/api-keys/${key.body.id}`), 204);

    // Catalog: create, search, read, change under If-Match (and a stale one), archive.
    const product = await answers(as('POST', '/v1/products', {
      title: 'Brick 2x4',
      description: 'The classic',
      status: 'active',
      vendorId: vendor.body.id,
      attributes: { theme: 'classic' },
      images: [{ url: 'https://cdn.example.test/2x4.png', alt: 'A red brick' }],
      variants: [
        { sku: 'CT-RED', priceAmount: 120, currency: 'EUR', options: { color: 'red' } },
        { sku: 'CT-BLUE', priceAmount: 130, compareAtAmount: 150, currency: 'EUR', options: { color: 'blue' }, weightGrams: 3 },
      ],
    }), 201);
    await answers(as('POST', '/v1/products', { title: 'Dup', variants: [{ sku: 'CT-RED', priceAmount: 1, currency: 'EUR' }] }), 409);
    await answers(as('POST', '/v1/products', { title: 'Bad money', variants: [{ sku: 'CT-EURO', priceAmount: 1, currency: 'EURO' }] }), 400);
    const archived = await answers(as('POST', '/v1/products', { title: 'Old brick', variants: [{ sku: 'CT-OLD', priceAmount: 50, currency: 'EUR' }] }), 201);
    await answers(as('GET', '/v1/products?q=brick&limit=1'), 200);
    await answers(as('GET', '/v1/products?status=active'), 200);
    const read = await answers(as('GET', `/v1/products/${product.body.id}`), 200);
    await answers(as('GET', `/v1/products/${randomUUID()}`), 404);
    const etag = read.headers.get('etag') as string;
    await answers(as('PATCH', `/v1/products/${product.body.id}`, { description: 'Still the classic' }, { 'if-match': etag }), 200);
    await answers(as('PATCH', `/v1/products/${product.body.id}`, { title: 'Stale' }, { 'if-match': etag }), 412);
    await answers(as('POST', `/v1/products/${archived.body.id}/archive`), 200);

    // Inventory: two locations, receive (inventory learns the SKUs from catalog's events), adjust, transfer, a
    // movement below zero refused; levels, ledger, reorder policy, settings, hot SKUs.
    const main = await answers(as('POST', '/v1/inventory/locations', { code: 'MAIN', name: 'Main warehouse', priority: 1 }), 201);
    const bin = await answers(as('POST', '/v1/inventory/locations', { code: 'MAIN-B1', name: 'Bin 1', parentId: main.body.id }), 201);
    await answers(as('POST', '/v1/inventory/locations', { code: 'MAIN', name: 'Again' }), 409);
    await answers(as('POST', '/v1/inventory/locations', { code: 'ORPHAN', name: 'Orphan', parentId: randomUUID() }), 422);
    await answers(as('GET', '/v1/inventory/locations'), 200);
    await answers(receiveStock(api, token, { sku: 'CT-RED', locationId: main.body.id, quantity: 20 }), 201);
    await answers(receiveStock(api, token, { sku: 'CT-BLUE', locationId: main.body.id, quantity: 5 }), 201);
    await answers(as('POST', '/v1/inventory/movements', { type: 'adjust', sku: 'CT-RED', locationId: main.body.id, quantity: -2, reason: 'damage' }), 201);
    await answers(as('POST', '/v1/inventory/movements', { type: 'transfer', sku: 'CT-RED', locationId: main.body.id, toLocationId: bin.body.id, quantity: 3 }), 201);
    await answers(as('POST', '/v1/inventory/movements', { type: 'adjust', sku: 'CT-RED', locationId: bin.body.id, quantity: -99, reason: 'loss' }), 409);
    await answers(as('POST', '/v1/inventory/movements', { type: 'receive', sku: 'NOPE', locationId: main.body.id, quantity: 1 }), 422);
    await answers(as('POST', '/v1/inventory/movements', { type: 'receive', sku: 'CT-RED', locationId: randomUUID(), quantity: 1 }), 422);
    await answers(as('GET', '/v1/inventory/levels?sku=CT-RED'), 200);
    await answers(as('GET', `/v1/inventory/levels?locationId=${bin.body.id}`), 200);
    await answers(as('GET', '/v1/inventory/ledger?sku=CT-RED&limit=2'), 200);
    await answers(as('PUT', '/v1/inventory/reorder-policies', { sku: 'CT-BLUE', locationId: main.body.id, reorderPoint: 2, reorderQuantity: 10 }), 200);
    await answers(as('GET', '/v1/inventory/settings'), 200);
    await answers(as('PUT', '/v1/inventory/settings', { reservationTtlSeconds: 900, cashOnDeliveryTtlSeconds: 86400 }), 200);
    await answers(as('POST', '/v1/inventory/hot-skus', { sku: 'CT-BLUE', ttlSeconds: 600 }), 204);
    await answers(as('POST', '/v1/inventory/hot-skus', { sku: 'CT-RED' }), 204);
    await answers(as('GET', '/v1/inventory/hot-skus?limit=1'), 200);
    await answers(as('DELETE', '/v1/inventory/hot-skus/CT-BLUE'), 204);
    await answers(as('DELETE', '/v1/inventory/hot-skus?sku=CT-RED'), 204);

    // Orders and billing: one order paid, one failed and retried, one cancelled; refusals on the way.
    const place = (sku: string, quantity = 1, idempotencyKey?: string) =>
      as(
        'POST',
        '/v1/orders',
        {
          items: [{ sku, quantity }],
          customer: { name: 'Ada', email: 'ada@example.test' },
          shippingAddress: { name: 'Ada', line1: '1 Brick Lane', city: 'Billund', postalCode: '7190', country: 'DK' },
          paymentMethod: 'bank_transfer',
        },
        idempotencyKey ? { 'idempotency-key': idempotencyKey } : undefined,
      );
    const key1 = randomUUID();
    const paid = await eventually(async () => {
      const res = await place('CT-RED', 2, key1);
      return res.status === 202 ? res : undefined;
    }, 'the orders service to know CT-RED');
    await answers(place('CT-RED', 2, key1), 202);
    await answers(place('CT-OLD'), 422);
    await answers(place('NOPE'), 422);
    const failed = await place('CT-BLUE');
    const cancelled = await place('CT-RED');
    expect([failed.status, cancelled.status]).toEqual([202, 202]);
    const awaiting = async (id: string) =>
      eventually(async () => {
        const res = await as('GET', `/v1/orders/${id}`);
        return res.body.status === 'awaiting_payment' && res.body.paymentId ? res.body : undefined;
      }, `order ${id} to await its payment`);
    const [paidOrder, failedOrder] = [await awaiting(paid.body.id), await awaiting(failed.body.id)];
    await awaiting(cancelled.body.id);
    await answers(as('GET', '/v1/orders?status=awaiting_payment&limit=2'), 200);
    await answers(as('GET', `/v1/orders/${randomUUID()}`), 404);
    await answers(as('POST', `/v1/orders/${cancelled.body.id}/cancel`, { reason: 'customer changed their mind' }), 200);
    await answers(as('POST', `/v1/orders/${cancelled.body.id}/cancel`, {}), 409);

    await answers(as('GET', `/v1/payments?orderId=${paid.body.id}`), 200);
    await answers(as('GET', `/v1/payments/${paidOrder.paymentId}`), 200);
    await answers(as('POST', `/v1/payments/${paidOrder.paymentId}/confirm`), 200);
    await answers(as('POST', `/v1/payments/${paidOrder.paymentId}/fail`, { reason: 'too late' }), 409);
    await answers(as('POST', `/v1/payments/${failedOrder.paymentId}/fail`, { reason: 'transfer bounced' }), 200);
    await answers(as('POST', `/v1/payments/${failedOrder.paymentId}/retry`, undefined, { 'idempotency-key': randomUUID() }), 201);
    await eventually(async () => {
      const res = await as('GET', `/v1/orders/${paid.body.id}`);
      return res.body.status === 'paid' ? res : undefined;
    }, 'the confirmed order to be paid');
    // The ledger after the commit, and the order's full history, with every cause.
    await answers(as('GET', '/v1/inventory/ledger?sku=CT-RED'), 200);
    await answers(as('GET', `/v1/orders/${cancelled.body.id}`), 200);

    expect(checker.violations).toEqual([]);
  });

  it('would see an undocumented field, a missing one, an undocumented status, a wrong media type and an unknown path', () => {
    // A checker of its own: these planted answers must not count against the tour's.
    const probe = new ContractChecker(doc);
    const headers = (type: string) => new Headers({ 'content-type': type });
    const found = (res: ApiResponse) => probe.check('GET', '/v1/inventory/settings', res);
    const settings = { reservationTtlSeconds: 900, cashOnDeliveryTtlSeconds: 86400 };
    expect(found({ status: 200, headers: headers('application/json'), body: settings })).toEqual([]);
    expect(found({ status: 200, headers: headers('application/json'), body: { ...settings, secret: 1 } })).toEqual([
      "GET /v1/inventory/settings → 200: body must NOT have additional properties 'secret'",
    ]);
    expect(found({ status: 200, headers: headers('application/json'), body: { reservationTtlSeconds: 900 } })).toHaveLength(1);
    expect(found({ status: 201, headers: headers('application/json'), body: settings })).toEqual([
      'GET /v1/inventory/settings → 201: status 201 is not documented',
    ]);
    expect(found({ status: 200, headers: headers('text/plain'), body: 'ok' })).toHaveLength(1);
    expect(found({ status: 404, headers: headers('application/problem+json'), body: { type: 'x', title: 'Not Found' } })).not.toEqual([]);
    const notFound = { type: 'https://tessera.dev/problems/not-found', title: 'Not Found', status: 404, code: 'not_found' };
    expect(probe.check('GET', '/v1/nothing-here', { status: 404, headers: headers('application/problem+json'), body: notFound })).toEqual([]);
    expect(probe.check('GET', '/v1/nothing-here', { status: 200, headers: headers('application/json'), body: {} })).toEqual([
      'GET /v1/nothing-here → 200: no such operation in the document',
    ]);
  });

  it('types every property as what it holds (no `string | null` reflected as an object)', () => {
    expect(typeContradictions(doc)).toEqual([]);
  });

  it('documents the response headers clients act on: ETag, Retry-After, idempotent-replayed', () => {
    const headersOf = (path: string, method: string, status: string) => Object.keys(doc.paths[path][method].responses?.[status]?.headers ?? {});
    for (const [path, method, status] of [['/v1/products', 'post', '201'], ['/v1/products/{id}', 'get', '200'], ['/v1/products/{id}', 'patch', '200']]) {
      expect([path, method, headersOf(path, method, status)]).toEqual([path, method, expect.arrayContaining(['ETag'])]);
    }
    expect(headersOf('/v1/auth/login', 'post', '429')).toEqual(['Retry-After']);
    expect(headersOf('/v1/orders', 'post', '202')).toEqual(['idempotent-replayed']);
  });

  it('gives every operation a summary of its own (what /docs lists)', () => {
    const withoutSummary: string[] = [];
    const bySummary = new Map<string, string[]>();
    for (const [label, operation] of checker.describedOperations()) {
      const summary = typeof operation.summary === 'string' ? operation.summary.trim() : '';
      if (!summary) withoutSummary.push(label);
      else bySummary.set(summary.toLowerCase(), [...(bySummary.get(summary.toLowerCase()) ?? []), `${label} ("${summary}")`]);
    }
    const sharedSummaries = [...bySummary.values()].filter((labels) => labels.length > 1).map((labels) => labels.join(' and '));
    expect({ withoutSummary, sharedSummaries }).toEqual({ withoutSummary: [], sharedSummaries: [] });
    expect(bySummary.size).toBeGreaterThanOrEqual(44);
  });

  it("keeps an operation's own description and its access note apart, with a blank line between them", () => {
    const NOTE = 'Who may call it:';
    const described = checker.describedOperations().filter(([, op]) => typeof op.description === 'string' && op.description.includes(NOTE));
    const runTogether = described
      .filter(([, op]) => !(op.description as string).startsWith(NOTE) && !(op.description as string).includes(`\n\n${NOTE}`))
      .map(([label]) => label);
    expect(runTogether).toEqual([]);
    // Not vacuous: operations that have both exist (order placement explains its 202, then says who may call it).
    expect(doc.paths['/v1/orders'].post).toMatchObject({ description: expect.stringMatching(/^Accepted, not yet done: .*\n\nWho may call it: /s) });
  });

  it('types whole numbers (money, quantities, counts) as integers and times as date-time', () => {
    expect(looseTypes(doc)).toEqual([]);
  });

  it('the tour answered every operation of the document with a 2xx', () => {
    const missing = checker.operations().filter((op) => !checker.covered.has(op));
    expect(missing).toEqual([]);
    expect(checker.operations().length).toBeGreaterThanOrEqual(44);
  });
});
