import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { FakeIdentity } from './fake-identity';
import { closedPort, FakeUpstream, json } from './fake-upstream';
import { startGateway, testConfig } from './gateway-harness';

const problem = { type: 'object', properties: { status: { type: 'integer' } } };

/** The merged document is built from the upstreams' real /openapi.json answers. */
describe('gateway OpenAPI and docs', () => {
  let identity: FakeIdentity;
  let catalog: FakeUpstream;
  let app: NestExpressApplication;
  let http: ReturnType<typeof request>;

  beforeAll(async () => {
    identity = await new FakeIdentity().init();
    identity.route('GET', '/openapi.json', (_req, res) =>
      json(res, 200, {
        openapi: '3.0.0',
        info: { title: 'identity', version: '1' },
        tags: [{ name: 'users' }],
        paths: {
          '/v1/users': { get: { operationId: 'listUsers', tags: ['users'], responses: { default: { $ref: '#/components/responses/Error' } } } },
          '/v1/auth/login': { post: { operationId: 'login', security: [{ callerContext: [] }] } },
          '/internal/api-keys/verify': { post: { operationId: 'verifyKey' } },
          '/health/ready': { get: { operationId: 'ready' } },
        },
        components: {
          schemas: { Problem: problem, User: { type: 'object' } },
          responses: { Error: { description: 'e', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } } },
          securitySchemes: { callerContext: { type: 'apiKey', in: 'header', name: 'x-tessera-context' } },
        },
      }),
    );
    catalog = await new FakeUpstream()
      .route('GET', '/openapi.json', (_req, res) =>
        json(res, 200, {
          openapi: '3.0.0',
          info: { title: 'catalog', version: '1' },
          paths: { '/v1/products': { get: { operationId: 'listProducts', responses: { '200': { description: 'ok', content: { 'application/json': { schema: { $ref: '#/components/schemas/Product' } } } } } } } },
          components: { schemas: { Problem: problem, Product: { type: 'object', properties: { sku: { type: 'string' } } }, User: { type: 'string' } } },
        }),
      )
      .start();
    const config = testConfig(identity.url);
    config.upstreams.push(
      { name: 'catalog', url: catalog.url, prefixes: ['/v1/products'] },
      { name: 'billing', url: `http://127.0.0.1:${await closedPort()}`, prefixes: ['/v1/payments'] },
    );
    app = await startGateway(config);
    http = request(app.getHttpServer());
  });

  afterAll(async () => {
    await app.close();
    await Promise.all([identity.stop(), catalog.stop()]);
  });

  it('merges the services documents, without their internal routes, and names the missing service', async () => {
    const res = await http.get('/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.body;
    expect(Object.keys(doc.paths).sort()).toEqual(['/v1/auth/login', '/v1/products', '/v1/users']);
    expect(Object.keys(doc.components.schemas).sort()).toEqual(['CatalogUser', 'Problem', 'Product', 'User']);
    expect(doc.components.securitySchemes).toEqual({
      bearer: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      apiKey: expect.objectContaining({ type: 'apiKey', in: 'header', name: 'X-Api-Key' }),
    });
    expect(doc.paths['/v1/auth/login'].post.security).toEqual([]);
    expect(doc.tags).toEqual([{ name: 'users' }]);
    expect(doc.info.description).toContain('billing');
    expect(doc.info.description).toContain('identity, catalog');
    // Fetched with the gateway's anonymous caller context, which services require on every route.
    expect(catalog.received('/openapi.json')[0].headers['x-tessera-context']).toEqual(expect.any(String));
  });

  it('serves a browsable page at /docs', async () => {
    const res = await http.get('/docs');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain('swagger-ui');
    const init = await http.get('/docs/swagger-ui-init.js');
    expect(init.status).toBe(200);
    expect(init.text).toContain('/v1/products');
    // Every asset the page links resolves (they are relative to /docs).
    const links = [...res.text.matchAll(/(?:href|src)="\.\/([^"]+)"/g)].map((m) => `/${m[1]}`);
    expect(links.length).toBeGreaterThanOrEqual(3);
    for (const link of links) expect({ link, status: (await http.get(link)).status }).toEqual({ link, status: 200 });
  });

  it('sends /docs/ to /docs, where the relative links of the page resolve', async () => {
    const res = await http.get('/docs/?x=1');
    expect(res.status).toBe(301);
    expect(res.headers['location']).toBe('/docs');
  });
});
