import { mergeOpenApi, type OpenApiDocument } from './merge-openapi';

const doc = (paths: OpenApiDocument['paths'], schemas: Record<string, unknown>): OpenApiDocument => ({
  openapi: '3.0.0',
  info: { title: 'x', version: '1' },
  paths,
  components: { schemas, securitySchemes: { callerContext: { type: 'apiKey', in: 'header', name: 'x-tessera-context' } } },
});

describe('mergeOpenApi', () => {
  const identity = doc(
    {
      '/v1/users': { get: { operationId: 'list', responses: { '200': { $ref: '#/components/schemas/Page' } } } },
      '/v1/auth/login': { post: { operationId: 'login', security: [{ callerContext: [] }] } },
      '/internal/api-keys/verify': { post: { operationId: 'verify' } },
    },
    { Page: { type: 'object', properties: { items: { type: 'array' } } }, Money: { type: 'integer' } },
  );
  const catalog = doc(
    { '/v1/products': { get: { operationId: 'list', responses: { '200': { $ref: '#/components/schemas/Page' } } } } },
    { Page: { type: 'object', properties: { rows: { type: 'array' } } }, Money: { type: 'integer' } },
  );

  const merged = mergeOpenApi(
    [
      { service: 'identity', prefixes: ['/v1/users', '/v1/auth'], document: identity },
      { service: 'catalog', prefixes: ['/v1/products'], document: catalog },
      { service: 'billing', prefixes: ['/v1/payments'], error: 'ECONNREFUSED' },
    ],
    { title: 'Tessera API', version: '1' },
  );

  it('publishes only the routed paths of each service', () => {
    expect(Object.keys(merged.paths).sort()).toEqual(['/v1/auth/login', '/v1/products', '/v1/users']);
  });

  it('prefixes clashing components and rewrites the refs of the renamed side only', () => {
    const schemas = merged.components?.['schemas'] ?? {};
    expect(Object.keys(schemas).sort()).toEqual(['CatalogPage', 'Money', 'Page']);
    expect(JSON.stringify(merged.paths['/v1/users'])).toContain('#/components/schemas/Page"');
    expect(JSON.stringify(merged.paths['/v1/products'])).toContain('#/components/schemas/CatalogPage');
  });

  it('replaces service security with the gateway schemes and marks public routes', () => {
    expect(Object.keys(merged.components?.['securitySchemes'] ?? {})).toEqual(['bearer', 'apiKey']);
    expect(merged.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    expect((merged.paths['/v1/auth/login']['post'] as { security: unknown }).security).toEqual([]);
    expect((merged.paths['/v1/users']['get'] as { security?: unknown }).security).toBeUndefined();
  });

  it('keeps operation ids unique and names missing services', () => {
    expect((merged.paths['/v1/products']['get'] as { operationId: string }).operationId).toBe('catalog_list');
    expect(merged.info.description).toContain('billing (ECONNREFUSED)');
    expect(merged.info.description).toContain('identity, catalog');
  });
});
