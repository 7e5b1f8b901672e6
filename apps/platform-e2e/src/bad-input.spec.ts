import { randomUUID } from 'node:crypto';
import { client, eventually, removeDataDir, signUp, startPlatform, type Platform } from './platform';
import { receiveStock } from './stock';
import { documentedClient, type ContractChecker } from './contract';

/**
 * Every operation of the merged OpenAPI document, called through the gateway with bad input: malformed and
 * hostile bodies, wrong values in every field (nested ones too), bad path parameters, query parameters and
 * Idempotency-Keys. None may answer 5xx, and every refusal must be problem+json. Walking the document means a new
 * route is covered the day it is published. (A first run of this walk found 500s from PostgreSQL on NUL
 * characters, from a 5,000-level body, and from `null` in PATCH /v1/users.)
 */
describe('bad input on every route (walks /openapi.json)', () => {
  let platform: Platform & { startupMs: number };
  let api: ReturnType<typeof client>;
  let token: string;
  let spec: OpenApi;
  let checker: ContractChecker;
  const ids: Record<string, string> = {};
  let locationId = '';
  const slug = `fuzz-${randomUUID().slice(0, 8)}`;
  const password = 'correct horse battery staple';

  beforeAll(async () => {
    platform = await startPlatform({ RATE_LIMIT_ADDRESS_POINTS: '1000000', RATE_LIMIT_TENANT_POINTS: '1000000' });
    // Every answer to an API path is also checked against the document (status, media type, body).
    ({ api, checker } = await documentedClient(platform.baseUrl));
    spec = (await api<OpenApi>('GET', '/openapi.json')).body;
    // A `mall` tenant with one of everything, so that path parameters can name real resources.
    ({ token } = await signUp(api, { slug, type: 'mall', defaultCurrency: 'EUR', password }));
    const as = (method: string, url: string, body?: unknown) => api(method, url, { token, body });
    const product = await as('POST', '/v1/products', {
      title: 'Brick',
      status: 'active',
      variants: [{ sku: 'FUZZ-1', priceAmount: 100, currency: 'EUR' }],
    });
    const location = await as('POST', '/v1/inventory/locations', { code: 'L1', name: 'Main' });
    locationId = location.body.id;
    // Inventory learns the SKU from catalog's events, a moment later: receiveStock waits for it.
    expect((await receiveStock(api, token, { sku: 'FUZZ-1', locationId: location.body.id, quantity: 50 })).status).toBe(201);
    const user = await as('POST', '/v1/users', { email: `u@${slug}.test`, name: 'U', role: 'staff', password });
    const store = await as('POST', '/v1/stores', { name: 'Shop', channel: 'storefront' });
    const key = await as('POST', '/v1/api-keys', { name: 'ops', scopes: ['orders:read'] });
    // The orders service learns the SKU from catalog's events, billing the order from orders': both a moment later.
    const order = await eventually(async () => {
      const res = await as('POST', '/v1/orders', { items: [{ sku: 'FUZZ-1', quantity: 1 }], customer: { name: 'C', email: 'c@fuzz.test' }, paymentMethod: 'bank_transfer' });
      return res.status === 202 ? res : undefined;
    }, 'an order for FUZZ-1');
    const payments = await eventually(async () => {
      const res = await as('GET', `/v1/payments?orderId=${order.body.id}`);
      return res.body.items?.length === 1 ? res : undefined;
    }, 'the order\'s payment');
    // Orders learns the payment from billing's event, later still, and that changes the order (paymentId, updatedAt):
    // the "changes nothing" snapshots below must not see it land.
    await eventually(async () => {
      const res = await as('GET', `/v1/orders/${order.body.id}`);
      return res.body.paymentId === payments.body.items[0].id ? true : undefined;
    }, 'orders to learn the payment');
    Object.assign(ids, {
      '/v1/products/{id}': product.body.id,
      '/v1/users/{id}': user.body.id,
      '/v1/stores/{id}': store.body.id,
      '/v1/api-keys/{id}': key.body.id,
      '/v1/orders/{id}': order.body.id,
      '/v1/payments/{id}': payments.body.items[0].id,
      '/v1/inventory/hot-skus/{sku}': 'FUZZ-1',
    });
  });

  it("answers another tenant's resources with 404 on every route that names one, and changes nothing", async () => {
    const { token: otherToken } = await signUp(api, { slug: `fuzz-b-${randomUUID().slice(0, 8)}` });
    const before = await snapshot();
    const leaks: string[] = [];
    const named = Object.entries(spec.paths).flatMap(([path, ops]) =>
      path.includes('{') && idFor(path) ? Object.keys(ops).map((method) => ({ path, method: method.toUpperCase() })) : [],
    );
    // Every path parameter of the document, but the hot-SKU one (a SKU is a name within the caller's own tenant).
    expect(named.filter((n) => !n.path.includes('{sku}')).length).toBeGreaterThanOrEqual(12);
    for (const { path, method } of named) {
      if (path.includes('{sku}')) continue;
      const url = path.replace(/\{\w+\}/, idFor(path) as string);
      const res = await api(method, url, { token: otherToken, ...(method === 'GET' || method === 'DELETE' ? {} : { body: {} }) });
      // 404, or 400 where the (empty) body is refused before the lookup; never the resource, never a change.
      if (res.status !== 404 && res.status !== 400) leaks.push(`${method} ${path} → ${res.status} ${JSON.stringify(res.body).slice(0, 120)}`);
    }
    expect(leaks).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it('refuses anonymous callers with 401 and a read-only API key with 4xx on every route not open to them', async () => {
    const readOnly = (await api('POST', '/v1/api-keys', { token, body: { name: 'reader', scopes: ['orders:read'] } })).body.key;
    expect(readOnly).toEqual(expect.any(String));
    const open = new Set(['POST /v1/tenants', 'POST /v1/auth/login', 'POST /v1/auth/refresh', 'POST /v1/auth/logout', 'GET /.well-known/jwks.json']);
    const wrong: string[] = [];
    for (const [path, ops] of Object.entries(spec.paths)) {
      for (const method of Object.keys(ops).map((m) => m.toUpperCase())) {
        const url = path.replace(/\{\w+\}/, () => idFor(path) ?? randomUUID());
        const body = method === 'GET' || method === 'DELETE' ? {} : { body: {} };
        const label = `${method} ${path}`;
        const anonymous = await api(method, url, body);
        if (!open.has(label) && anonymous.status !== 401) wrong.push(`anonymous ${label} → ${anonymous.status}`);
        const keyed = await api(method, url, { ...body, apiKey: readOnly });
        const problem = /application\/problem\+json/.test(keyed.headers.get('content-type') ?? '');
        if (keyed.status >= 500 || (keyed.status >= 400 && !problem)) wrong.push(`API key ${label} → ${keyed.status}`);
        // A key that may only read orders changes nothing anywhere, and reads only orders and what every member of
        // the tenant may read (the catalog, the stores).
        const readable = method === 'GET' && /^\/(v1\/orders|v1\/products|v1\/stores|\.well-known)(\/|$)/.test(path);
        if (!readable && keyed.status < 400) wrong.push(`API key ${label} → ${keyed.status}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('refuses a wrong-typed value in any field of an otherwise valid create request with a 4xx, and creates nothing', async () => {
    let n = 0;
    const creates: { path: string; list: string; body: () => Record<string, unknown> }[] = [
      { path: '/v1/products', list: '/v1/products', body: () => ({ title: 'Valid', variants: [{ sku: `VALID-${++n}`, priceAmount: 100, currency: 'EUR' }] }) },
      { path: '/v1/inventory/locations', list: '/v1/inventory/locations', body: () => ({ code: `VL-${++n}`, name: 'Valid' }) },
      { path: '/v1/inventory/movements', list: '/v1/inventory/ledger?sku=FUZZ-1', body: () => ({ type: 'receive', sku: 'FUZZ-1', locationId, quantity: 1 }) },
      {
        path: '/v1/orders',
        list: '/v1/orders',
        body: () => ({ items: [{ sku: 'FUZZ-1', quantity: 1 }], customer: { name: 'C', email: 'c@fuzz.test' }, paymentMethod: 'bank_transfer' }),
      },
      { path: '/v1/users', list: '/v1/users', body: () => ({ email: `valid${++n}@${slug}.test`, name: 'V', role: 'staff', password }) },
      { path: '/v1/stores', list: '/v1/stores', body: () => ({ name: `Valid ${++n}`, channel: 'storefront' }) },
      { path: '/v1/vendors', list: '/v1/vendors', body: () => ({ name: `Vendor ${++n}`, commissionRate: 1000 }) },
      { path: '/v1/api-keys', list: '/v1/api-keys', body: () => ({ name: `key ${++n}`, scopes: ['orders:read'] }) },
    ];
    const wrong: string[] = [];
    let probes = 0;
    for (const { path, list, body } of creates) {
      // The valid body is accepted (so each refusal below is about the one field changed), then nothing more appears.
      const accepted = await api('POST', path, { token, body: body() });
      expect({ path, status: accepted.status }).toEqual({ path, status: accepted.status < 300 ? accepted.status : 'a 2xx' });
      const before = await countAll(list);
      const schema = resolve(spec, spec.paths[path]?.post?.requestBody?.content?.['application/json']?.schema);
      expect({ path, schema: Boolean(schema?.properties) }).toEqual({ path, schema: true });
      for (const [field, fieldSchema] of fieldsOf(spec, schema as SchemaObject, body())) {
        for (const value of wrongValuesFor(fieldSchema)) {
          const res = await api('POST', path, { token, body: withValue(body(), field, value) });
          probes++;
          const problem = /application\/problem\+json/.test(res.headers.get('content-type') ?? '');
          if (res.status < 400 || res.status >= 500 || !problem) wrong.push(`POST ${path} ${field}=${show(value)} → ${res.status}`);
        }
      }
      const unknown = await api('POST', path, { token, body: { ...body(), unexpectedField: 1 } });
      if (unknown.status !== 400) wrong.push(`POST ${path} with an unknown field → ${unknown.status}`);
      expect({ path, count: await countAll(list) }).toEqual({ path, count: before });
    }
    expect(wrong).toEqual([]);
    expect(probes).toBeGreaterThan(60);
  });

  it('keeps the platform metrics off the public port, on the gateway metrics port', async () => {
    for (const opts of [{}, { token }]) expect((await api('GET', '/metrics', opts)).status).toBe(404);
    const scrape = await fetch(platform.gatewayMetricsUrl);
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).toMatch(/^gateway_upstream_request_duration_seconds_count\{/m);
  });

  /** Items of a list, following nextCursor. */
  async function countAll(list: string): Promise<number> {
    let count = 0;
    let cursor: string | undefined;
    do {
      const sep = list.includes('?') ? '&' : '?';
      const page = await api('GET', `${list}${cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ''}`, { token });
      expect(page.status).toBe(200);
      count += page.body.items.length;
      cursor = page.body.nextCursor ?? undefined;
    } while (cursor);
    return count;
  }

  /** What tenant A's resources look like through the API, to show nothing changed. */
  async function snapshot(): Promise<unknown[]> {
    const paths = ['/v1/products', '/v1/users', '/v1/stores', '/v1/api-keys', '/v1/orders', '/v1/payments', '/v1/inventory/levels'];
    return Promise.all(paths.map(async (p) => (await api('GET', p, { token })).body));
  }

  /** The resource a path names: `/v1/orders/{id}/cancel` names the order of `/v1/orders/{id}`. */
  const idFor = (path: string): string | undefined => ids[path.slice(0, path.indexOf('}') + 1)];

  afterAll(async () => {
    if (platform) {
      await platform.stop();
      removeDataDir(platform);
    }
  });

  it('answers every bad request with a 4xx problem+json, never a 5xx', async () => {
    const failures: string[] = [];
    const calls = new Map<string, number>();
    /** `refuse`: the probe is bad on this route whatever the rest of the request says, so only a 4xx will do. */
    const send = async (
      label: string,
      method: string,
      url: string,
      opts: { body?: unknown; rawBody?: string; headers?: Record<string, string> },
      refuse = false,
    ) => {
      const res = await api(method, url, { token, ...opts });
      calls.set(label.split(' ', 2).join(' '), (calls.get(label.split(' ', 2).join(' ')) ?? 0) + 1);
      const problem = /application\/problem\+json/.test(res.headers.get('content-type') ?? '');
      if (res.status >= 500 || (res.status >= 400 && !problem) || (refuse && res.status < 400))
        failures.push(`${label} → ${res.status} ${String(JSON.stringify(res.body)).slice(0, 160)}`);
    };

    const operations = Object.entries(spec.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ path, method: method.toUpperCase(), op })),
    );
    expect(operations.length).toBeGreaterThan(30);
    for (const { path, method, op } of operations) {
      const label = `${method} ${path}`;
      const url = path.replace(/\{\w+\}/, () => idFor(path) ?? randomUUID());
      const withBody = method !== 'GET' && method !== 'DELETE';

      // None of these is an id of anything: a 4xx, never the resource. (A SKU is a name: `not-a-uuid` is one, and
      // unflagging a SKU that is not flagged is a 204.)
      const namesById = /\{\w*[iI]d\}/.test(path);
      for (const param of path.includes('{') ? BAD_PATH_PARAMS : [])
        await send(`${label} path=${param.slice(0, 16)}`, method, path.replace(/\{\w+\}/, param), withBody ? { body: {} } : {}, namesById);

      // Queries: every read, and a delete that names its target by query (DELETE /v1/inventory/hot-skus?sku=). A bad
      // value of a parameter the operation declares must be refused; others may be ignored.
      const declared = new Set((op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name));
      if (method === 'GET' || (method === 'DELETE' && !path.includes('{')))
        for (const query of BAD_QUERIES) {
          const name = query.split(/[=[]/, 1)[0];
          await send(`${label} ?${query.slice(0, 24)}`, method, `${url}?${query}`, {}, (declared.has(name) && !VALID_QUERIES.includes(query)) || RESERVED_NAME_QUERIES.includes(query));
        }
      if (!withBody) continue;

      for (const key of BAD_IDEMPOTENCY_KEYS)
        await send(`${label} Idempotency-Key=${key.slice(0, 8)}`, method, url, { body: {}, headers: { 'idempotency-key': key } });
      // Unparseable, not an object, or carrying fields no operation has: refused everywhere.
      for (const rawBody of BAD_RAW_BODIES) await send(`${label} raw=${rawBody.slice(0, 16)}`, method, url, { rawBody }, true);

      const schema = resolve(spec, op.requestBody?.content?.['application/json']?.schema);
      const props = Object.entries(schema?.properties ?? {});
      for (const [prop, propSchema] of props) {
        for (const value of BAD_VALUES) await send(`${label} ${prop}=${show(value)}`, method, url, { body: { [prop]: value } });
        // One level down: the fields of an object, or of an array's items.
        const resolved = resolve(spec, propSchema);
        const item = resolved?.type === 'array' ? resolve(spec, resolved.items) : resolved;
        for (const sub of Object.keys(item?.properties ?? {}))
          for (const value of BAD_VALUES) {
            const inner = { [sub]: value };
            await send(`${label} ${prop}.${sub}=${show(value)}`, method, url, { body: { [prop]: resolved?.type === 'array' ? [inner] : inner } });
          }
      }
    }
    expect(failures).toEqual([]);
    // Every operation was actually exercised.
    for (const { path, method } of operations) expect(calls.get(`${method} ${path}`) ?? 0).toBeGreaterThan(0);
  });

  it('gave, to all of the above, only answers the OpenAPI document describes', () => {
    expect(checker.violations).toEqual([]);
  });
});

interface SchemaObject {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  properties?: Record<string, SchemaObject>;
  items?: SchemaObject;
}
interface OpenApi {
  paths: Record<
    string,
    Record<string, { parameters?: { name: string; in: string }[]; requestBody?: { content?: Record<string, { schema?: SchemaObject }> } }>
  >;
  components?: { schemas?: Record<string, SchemaObject> };
}

function resolve(spec: OpenApi, schema: SchemaObject | undefined): SchemaObject | undefined {
  for (let i = 0; schema?.$ref && i < 10; i++) schema = spec.components?.schemas?.[schema.$ref.split('/').pop() as string];
  return schema;
}

const show = (v: unknown): string => (JSON.stringify(v) ?? String(v)).slice(0, 24);

/**
 * The fields a valid body fills, as dotted paths with their schemas: its own, those of nested objects, and those of
 * the first item of arrays of objects (`variants.0.priceAmount`).
 */
function fieldsOf(spec: OpenApi, schema: SchemaObject, body: Record<string, unknown>, prefix = ''): [string, SchemaObject][] {
  const out: [string, SchemaObject][] = [];
  for (const [name, raw] of Object.entries(schema.properties ?? {})) {
    if (!(name in body)) continue;
    const field = resolve(spec, raw) as SchemaObject;
    out.push([`${prefix}${name}`, field]);
    const value = body[name];
    const item = field.type === 'array' ? resolve(spec, field.items) : undefined;
    if (item?.properties && Array.isArray(value) && typeof value[0] === 'object')
      out.push(...fieldsOf(spec, item, value[0] as Record<string, unknown>, `${prefix}${name}.0.`));
    else if (field.properties && value && typeof value === 'object' && !Array.isArray(value))
      out.push(...fieldsOf(spec, field, value as Record<string, unknown>, `${prefix}${name}.`));
  }
  return out;
}

/** Values no field of this schema's type accepts (no implicit conversion: '12' is not an integer). */
function wrongValuesFor(schema: SchemaObject): unknown[] {
  const byType: Record<string, unknown[]> = {
    string: [12345, true, {}, []],
    integer: ['12', 1.5, true, {}, 1e308],
    number: ['12', true, {}],
    boolean: ['true', 1],
    array: ['x', 7, {}],
    object: ['x', 7, []],
  };
  const values = [...(byType[schema.type ?? ''] ?? [])];
  if (schema.enum) values.push('not-one-of-them');
  return values;
}

/** `body` with `value` at the dotted `path` (numeric parts index arrays). */
function withValue(body: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const parts = path.split('.');
  let target = body as Record<string, unknown>;
  for (const part of parts.slice(0, -1)) target = target[part] as Record<string, unknown>;
  target[parts[parts.length - 1]] = value;
  return body;
}

const BAD_VALUES: unknown[] = [
  null,
  '',
  -1,
  0,
  1.5,
  1e308,
  2 ** 53 + 1,
  'x'.repeat(20_000),
  [],
  {},
  true,
  'nul\u0000',
  'lone surrogate \ud83d',
  "' OR 1=1 --",
  '1e309',
  [null],
  { a: { b: {} } },
  '00000000-0000-0000-0000-000000000000',
];

const BAD_PATH_PARAMS = ['not-a-uuid', '00000000-0000-0000-0000-000000000000', 'x'.repeat(3000), '%00', '..%2F..%2F', '%E2%82', "'"];

/** Parameters named like a property of every object: no route declares one, and every route refuses them. */
const RESERVED_NAME_QUERIES = ['__proto__=x', 'constructor=x', 'toString=1', 'hasOwnProperty=1'];

const BAD_QUERIES = [
  'limit=-1',
  'limit=0',
  'limit=abc',
  'limit=100000000000000000000',
  'cursor=zzz',
  `cursor=${Buffer.from('{"a":1}').toString('base64url')}`,
  `cursor=${'A'.repeat(5000)}`,
  'status=weird',
  'q=%25_%5C',
  `q=${'x'.repeat(5000)}`,
  'sku=%00',
  'locationId=nope',
  'orderId=nope',
  'status[]=a&status[]=b',
  'limit=1&limit=2',
  'q[$ne]=1',
  ...RESERVED_NAME_QUERIES,
];

/** Of BAD_QUERIES, those a route may accept: a search text made of LIKE's special characters is a search text. */
const VALID_QUERIES = ['q=%25_%5C'];

const BAD_IDEMPOTENCY_KEYS = ['x'.repeat(300), ' ', 'a b', '%00', 'k'.repeat(8000)];

const BAD_RAW_BODIES = [
  '{',
  '[1,2',
  '"str"',
  '123',
  'null',
  '[]',
  '{"__proto__":{"polluted":1}}',
  '{"constructor":{"prototype":{"polluted":1}}}',
  '{"toString":"x","hasOwnProperty":true}',
  `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`,
  '{"attributes":{"k\\u0000":1},"title":"x\\u0000"}',
  '{"attributes":{"k\\ud800":1},"title":"x\\udc00","name":"\\ud83d"}',
];
