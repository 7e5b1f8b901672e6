import type { INestApplication } from '@nestjs/common';
import type { CallerContext } from '@tessera/contracts';
import request from 'supertest';
import { bootstrapService, HealthRegistry, signCallerContext } from '../src';
import { FixtureModule, LogCapture, TEST_SECRET, testConfig } from './fixture.module';

const TENANT = '3f0c3c1e-6d0a-4a35-9d41-2d0f3c3c1f00';
const owner: CallerContext = {
  requestId: 'req-1',
  tenantId: TENANT,
  principalId: 'a1b2c3d4-0000-4000-8000-000000000001',
  principalType: 'user',
  roles: ['owner'],
  scopes: [],
};
const validWidget = { name: 'brick', quantity: 3, dimensions: { width: 2 } };

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('bootstrapService', () => {
  let app: INestApplication;
  let server: Parameters<typeof request>[0];
  const logs = new LogCapture();
  let ready = true;

  const token = (ctx: Partial<CallerContext> = {}, ttl?: number) =>
    signCallerContext({ ...owner, ...ctx }, TEST_SECRET, ttl);

  beforeAll(async () => {
    app = await bootstrapService({
      name: 'fixture',
      module: FixtureModule,
      port: 0,
      host: '127.0.0.1',
      config: testConfig,
      openapi: { title: 'Fixture API', version: '1.2.3' },
      logDestination: logs,
      handleSignals: false,
      configure: (nestApp) => {
        nestApp.get(HealthRegistry).registerReadinessCheck('database', () => {
          if (!ready) throw new Error('connection refused');
        });
        nestApp.get(HealthRegistry).registerReadinessCheck('transport', () => true);
      },
    });
    server = app.getHttpServer();
  });

  afterAll(async () => {
    await app.close();
  });

  const expectProblem = (res: request.Response, status: number) => {
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status, type: expect.stringMatching(/^https:\/\//), title: expect.any(String) });
  };

  describe('validation and problem+json', () => {
    it('accepts a valid body, transforms it to the DTO and exposes the caller', async () => {
      const res = await request(server).post('/widgets').set('x-tessera-context', await token()).send(validWidget);
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ widget: validWidget, isDto: true, tenantId: TENANT, storedTenantId: TENANT });
    });

    it('refuses unknown fields with a 400 naming them', async () => {
      const res = await request(server)
        .post('/widgets')
        .set('x-tessera-context', await token())
        .send({ ...validWidget, admin: true, dimensions: { width: 2, depth: 1 } });
      expectProblem(res, 400);
      expect(res.body.code).toBe('validation_failed');
      const fields = res.body.errors.map((e: { field: string }) => e.field);
      expect(fields).toEqual(expect.arrayContaining(['admin', 'dimensions.depth']));
      expect(res.body.errors).toContainEqual(expect.objectContaining({ field: 'admin', pointer: '#/admin' }));
    });

    it('refuses wrong types with field errors', async () => {
      const res = await request(server)
        .post('/widgets')
        .set('x-tessera-context', await token())
        .send({ name: 42, quantity: 'three', dimensions: { width: 0 } });
      expectProblem(res, 400);
      const fields = res.body.errors.map((e: { field: string }) => e.field);
      expect(fields).toEqual(expect.arrayContaining(['name', 'quantity', 'dimensions.width']));
    });

    it('refuses a body that is not an object, or is missing', async () => {
      const ctx = await token();
      expectProblem(await request(server).post('/widgets').set('x-tessera-context', ctx).send([validWidget]), 400);
      expectProblem(await request(server).post('/widgets').set('x-tessera-context', ctx), 400);
      const text = await request(server)
        .post('/widgets')
        .set('x-tessera-context', ctx)
        .set('content-type', 'text/plain')
        .send(JSON.stringify(validWidget));
      expectProblem(text, 415);
    });

    it('answers malformed JSON with 400 problem+json', async () => {
      const res = await request(server)
        .post('/widgets')
        .set('x-tessera-context', await token())
        .set('content-type', 'application/json')
        .send('{"name": "brick",');
      expectProblem(res, 400);
      expect(res.body.code).toBe('bad_request');
    });

    it('refuses a NUL character in the body or the URL, and a body nested too deeply, with 400 (not a 500 from below)', async () => {
      const ctx = await token();
      const nul = await request(server)
        .post('/widgets')
        .set('x-tessera-context', ctx)
        .send({ ...validWidget, name: 'brick\u0000' });
      expectProblem(nul, 400);
      expect(nul.body.errors).toEqual([expect.objectContaining({ field: 'name', pointer: '#/name' })]);

      // 5,000 levels overflowed the stack of Nest's prototype-key stripping: a 500.
      const deep = await request(server)
        .post('/widgets')
        .set('x-tessera-context', ctx)
        .set('content-type', 'application/json')
        .send(`{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`);
      expectProblem(deep, 400);
      expect(deep.body.errors[0].detail).toMatch(/deeper than 32 levels/);

      const url = await request(server).get('/widgets/missing%00').set('x-tessera-context', ctx);
      expectProblem(url, 400);
      expect(url.body.detail).toMatch(/NUL/);
      expectProblem(await request(server).get('/widgets?limit=%00').set('x-tessera-context', ctx), 400);
    });

    it('refuses a body with too many keys or items before validating it, and lists at most 100 field errors', async () => {
      const ctx = await token();
      // 80,000 keys, within the 1 MiB limit: such bodies kept the process busy for seconds in class-transformer.
      const keys = Object.fromEntries(Array.from({ length: 80_000 }, (_, i) => [`k${i}`, 0]));
      const wide = await request(server).post('/widgets').set('x-tessera-context', ctx).send({ ...validWidget, ...keys });
      expectProblem(wide, 400);
      expect(wide.body.errors).toEqual([{ field: '', pointer: '#/', detail: 'has 80003 keys; at most 1000 are accepted' }]);
      const long = await request(server).post('/widgets').set('x-tessera-context', ctx).send({ ...validWidget, tags: Array(1001).fill('t') });
      expectProblem(long, 400);
      expect(long.body.errors[0]).toMatchObject({ field: 'tags', detail: expect.stringMatching(/has 1001 items/) });
      // Within the limits, every unknown key is an error of its own: the problem names the first 100.
      const unknown = Object.fromEntries(Array.from({ length: 900 }, (_, i) => [`u${i}`, 0]));
      const many = await request(server).post('/widgets').set('x-tessera-context', ctx).send({ ...validWidget, ...unknown });
      expectProblem(many, 400);
      expect(many.body.errors).toHaveLength(100);
      expect(many.body.errors[0]).toMatchObject({ field: 'u0', detail: 'property u0 should not exist' });
    });

    it('refuses an array body and prototype keys with 400 instead of validating what is left of them', async () => {
      const ctx = await token();
      const url = '/widgets/00000000-0000-4000-8000-000000000000';
      const empty = await request(server).patch(url).set('x-tessera-context', ctx).send({});
      expect([empty.status, empty.body]).toEqual([200, { id: '00000000-0000-4000-8000-000000000000', changed: [] }]);
      for (const raw of ['[]', '[{"name":"brick","quantity":3}]', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}']) {
        const res = await request(server).patch(url).set('x-tessera-context', ctx).set('content-type', 'application/json').send(raw);
        expect([raw, res.status]).toEqual([raw, 400]);
        expectProblem(res, 400);
      }
    });

    it('refuses a body that is not JSON with 415 instead of going on as if there were none', async () => {
      const ctx = await token();
      const url = '/widgets/00000000-0000-4000-8000-000000000000';
      const cases: [string | undefined, string][] = [
        ['application/x-www-form-urlencoded', 'name=brick'],
        ['text/plain', '{"name":"brick"}'],
        [undefined, '{"name":"brick"}'],
      ];
      for (const [type, body] of cases) {
        const req = request(server).patch(url).set('x-tessera-context', ctx);
        if (type) req.set('content-type', type);
        else req.unset('content-type');
        const res = await req.send(Buffer.from(body));
        expectProblem(res, 415);
        expect([type, res.body.reason]).toEqual([type, 'body_not_json']);
      }
      // JSON with a charset, a +json type, and no body at all (whatever the type) go through.
      const charset = await request(server).patch(url).set('x-tessera-context', ctx).set('content-type', 'application/json; charset=utf-8').send('{}');
      expect(charset.status).toBe(200);
      const merge = await request(server).patch(url).set('x-tessera-context', ctx).set('content-type', 'application/merge-patch+json').send('{}');
      expect(merge.status).toBe(200);
      const none = await request(server).patch(url).set('x-tessera-context', ctx).set('content-type', 'text/plain');
      expect(none.status).toBe(200);
    });

    it('answers an oversized body with 413 problem+json', async () => {
      const res = await request(server)
        .post('/widgets')
        .set('x-tessera-context', await token())
        .send({ ...validWidget, name: 'x'.repeat(1024 * 1024 + 10) });
      expectProblem(res, 413);
      expect(res.body.code).toBe('payload_too_large');
    });

    it('answers an unknown route with 404 problem+json', async () => {
      const res = await request(server).get('/nowhere').set('x-tessera-context', await token());
      expectProblem(res, 404);
      expect(res.body.instance).toBe('/nowhere');
    });

    it('maps domain exceptions to their status', async () => {
      const res = await request(server).get('/widgets/missing').set('x-tessera-context', await token());
      expectProblem(res, 404);
      expect(res.body).toMatchObject({ code: 'not_found', detail: 'Widget 42 does not exist' });
    });

    it('answers a bad path parameter with 400, not 500', async () => {
      const res = await request(server).get('/widgets/not-a-uuid').set('x-tessera-context', await token());
      expectProblem(res, 400);
    });

    it('answers an unexpected error with 500, an errorId that is logged with the stack, and no internals', async () => {
      const res = await request(server).get('/widgets/boom').set('x-tessera-context', await token());
      expectProblem(res, 500);
      expect(res.body.errorId).toMatch(/^[0-9a-f-]{36}$/);
      expect(JSON.stringify(res.body)).not.toContain('kaboom');
      const logged = logs.lines.find((line) => line['errorId'] === res.body.errorId);
      expect(logged).toBeDefined();
      expect(JSON.stringify(logged)).toContain('kaboom');
      expect((logged?.['err'] as { stack: string }).stack).toContain('WidgetsController');
    });
  });

  describe('pagination', () => {
    it('defaults the limit and round-trips a cursor', async () => {
      const first = await request(server).get('/widgets').set('x-tessera-context', await token());
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ limit: 20, after: 0 });
      const second = await request(server)
        .get('/widgets')
        .query({ limit: '5', cursor: first.body.nextCursor })
        .set('x-tessera-context', await token());
      expect(second.body).toMatchObject({ limit: 5, after: 1 });
    });

    it('refuses a limit out of range and a forged cursor with 400', async () => {
      const ctx = await token();
      expectProblem(await request(server).get('/widgets?limit=101').set('x-tessera-context', ctx), 400);
      expectProblem(await request(server).get('/widgets?limit=0').set('x-tessera-context', ctx), 400);
      const forged = Buffer.from('{"after":"x"}').toString('base64url');
      const res = await request(server).get(`/widgets?cursor=${forged}`).set('x-tessera-context', ctx);
      expectProblem(res, 400);
      expect(res.body.errors[0].field).toBe('cursor');
    });
  });

  describe('caller context', () => {
    it('refuses a request without the context header', async () => {
      const res = await request(server).post('/widgets').send(validWidget);
      expectProblem(res, 401);
    });

    it('refuses a garbage token', async () => {
      expectProblem(await request(server).get('/widgets').set('x-tessera-context', 'not.a.jwt'), 401);
    });

    it('refuses an expired token', async () => {
      const res = await request(server).get('/widgets').set('x-tessera-context', await token({}, -60));
      expectProblem(res, 401);
      expect(res.body.detail).toMatch(/expired/);
    });

    it('refuses a token signed with another secret', async () => {
      const forged = await signCallerContext(owner, 'another-secret-that-is-also-32-characters-long');
      expectProblem(await request(server).get('/widgets').set('x-tessera-context', forged), 401);
    });

    it('refuses an alg:none token', async () => {
      const now = Math.floor(Date.now() / 1000);
      const unsigned = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({
        iss: 'tessera-gateway',
        aud: 'tessera-services',
        iat: now,
        exp: now + 60,
        rid: 'r',
        tid: TENANT,
        sub: 'u',
        ptype: 'user',
        roles: ['owner'],
        scopes: [],
      })}.`;
      expectProblem(await request(server).get('/widgets').set('x-tessera-context', unsigned), 401);
    });

    it('refuses a tampered token', async () => {
      const [header, , signature] = (await token({ roles: ['viewer'] })).split('.');
      const payload = base64url({ rid: 'r', tid: TENANT, ptype: 'user', roles: ['owner'], scopes: [] });
      const res = await request(server).post('/widgets').set('x-tessera-context', `${header}.${payload}.${signature}`);
      expectProblem(res, 401);
    });

    it('answers 403 when none of the caller roles match', async () => {
      const res = await request(server)
        .post('/widgets')
        .set('x-tessera-context', await token({ roles: ['viewer', 'picker'] }))
        .send(validWidget);
      expectProblem(res, 403);
    });

    it('refuses an anonymous caller on a non-public route and accepts it on a public one', async () => {
      const anonymous = await token({ principalType: 'anonymous', tenantId: undefined, principalId: undefined, roles: [] });
      expectProblem(await request(server).get('/widgets').set('x-tessera-context', anonymous), 401);
      const res = await request(server).post('/widgets/public').set('x-tessera-context', anonymous);
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ principalType: 'anonymous' });
      expectProblem(await request(server).post('/widgets/public'), 401);
    });

    it('requires a tenant on non-public routes', async () => {
      const res = await request(server).get('/widgets').set('x-tessera-context', await token({ tenantId: undefined }));
      expectProblem(res, 403);
    });

    it('checks API key scopes', async () => {
      const key = { principalType: 'api_key' as const, roles: [], principalId: 'key-1' };
      const allowed = await token({ ...key, scopes: ['widgets:read'] });
      expect((await request(server).get('/widgets/scoped').set('x-tessera-context', allowed)).status).toBe(200);
      const other = await token({ ...key, scopes: ['orders:read'] });
      expectProblem(await request(server).get('/widgets/scoped').set('x-tessera-context', other), 403);
    });

    it("keeps Nest's start-up report (modules, routes) at debug, and says once at info that it listens", async () => {
      const startup = logs.lines.filter((l) => ['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory'].includes(String(l['context'])));
      expect(startup).toEqual([]);
      expect(logs.lines.filter((l) => /fixture listening/.test(String(l['msg'])))).toHaveLength(1);
    });

    it('logs request id, tenant and user, and echoes the request id', async () => {
      const res = await request(server)
        .get('/widgets')
        .set('x-request-id', 'trace-me-123')
        .set('x-tessera-context', await token());
      expect(res.headers['x-request-id']).toBe('trace-me-123');
      const line = logs.lines.find((l) => l['requestId'] === 'trace-me-123' && l['res']);
      expect(line).toMatchObject({ tenantId: TENANT, userId: owner.principalId, service: 'fixture' });
      // Method, path, status: no headers, so no credential can reach the logs.
      expect(line).toMatchObject({ req: { method: 'GET', url: '/widgets' }, res: { statusCode: 200 } });
      expect((line?.['req'] as Record<string, unknown>)['headers']).toBeUndefined();
      expect(JSON.stringify(line)).not.toContain((await token()).split('.')[2]);
    });

    it('generates a request id when none is given', async () => {
      const res = await request(server).get('/health/live');
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });
  });

  describe('health, metrics and OpenAPI (public)', () => {
    it('is live without a caller context', async () => {
      const res = await request(server).get('/health/live');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ok' });
    });

    it('is ready when every check passes, and 503 naming the failing check otherwise', async () => {
      const ok = await request(server).get('/health/ready');
      expect(ok.status).toBe(200);
      ready = false;
      try {
        const res = await request(server).get('/health/ready');
        expectProblem(res, 503);
        expect(res.body.detail).toContain('database');
        expect(res.body.checks).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ name: 'database', status: 'down', error: 'connection refused' }),
            expect.objectContaining({ name: 'transport', status: 'up' }),
          ]),
        );
      } finally {
        ready = true;
      }
    });

    it('exposes Prometheus metrics with the request histogram by route template', async () => {
      await request(server).get('/widgets/0b7e9c1e-6d0a-4a35-9d41-2d0f3c3c1f00').set('x-tessera-context', await token());
      const res = await request(server).get('/metrics');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.text).toContain('# TYPE http_request_duration_seconds histogram');
      expect(res.text).toMatch(/http_request_duration_seconds_count\{[^}]*method="GET",route="\/widgets\/:id",status="200"/);
      expect(res.text).toContain('process_cpu_user_seconds_total');
      expect(res.text).not.toContain('0b7e9c1e-6d0a');
    });

    it('serves a valid OpenAPI 3 document with the problem schema', async () => {
      const res = await request(server).get('/openapi.json');
      expect(res.status).toBe(200);
      expect(res.body.openapi).toMatch(/^3\./);
      expect(res.body.info).toMatchObject({ title: 'Fixture API', version: '1.2.3' });
      expect(res.body.paths['/widgets'].post.responses.default.content['application/problem+json'].schema).toEqual({
        $ref: '#/components/schemas/Problem',
      });
      expect(res.body.components.schemas.Problem.required).toEqual(['type', 'title', 'status', 'code']);
      // The extension member most problems carry, documented for clients that branch on it.
      expect(res.body.components.schemas.Problem.properties.reason).toMatchObject({ type: 'string' });
      expect(res.body.components.schemas.CreateWidgetDto.properties).toHaveProperty('quantity');
      expect(res.body.paths['/health/live']).toBeUndefined();
    });

    it('documents the problem+json body of error responses declared with a description only', async () => {
      const res = await request(server).get('/openapi.json');
      expect(res.body.paths['/widgets'].post.responses['409']).toEqual({
        description: 'a widget of that name exists',
        content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
      });
    });

    it('says on each operation who may call it: the roles of @Roles, the API-key scopes of @Scopes', async () => {
      const res = await request(server).get('/openapi.json');
      const create = res.body.paths['/widgets'].post;
      expect(create['x-tessera-roles']).toEqual(['owner', 'admin']);
      expect(create.description).toContain('Who may call it: users with the role owner, admin; no API key.');
      const scoped = res.body.paths['/widgets/scoped'].get;
      expect(scoped['x-tessera-api-key-scopes']).toEqual(['widgets:read']);
      expect(scoped.description).toContain('Who may call it: no user; API keys with the scopes widgets:read.');
      expect(res.body.paths['/widgets/public'].post.description ?? '').not.toContain('Who may call it');
    });

    it('documents a resource named by id in the path as a UUID that may be 404', async () => {
      const res = await request(server).get('/openapi.json');
      const get = res.body.paths['/widgets/{id}'].get;
      expect(get.parameters).toEqual([expect.objectContaining({ name: 'id', in: 'path', schema: expect.objectContaining({ format: 'uuid' }) })]);
      expect(get.responses['404'].content['application/problem+json']).toBeDefined();
      expect(res.body.paths['/widgets'].get.responses['404']).toBeUndefined();
    });

    it('lists null in a nullable enum, as OpenAPI 3.0.3 requires for the null to be valid', async () => {
      const res = await request(server).get('/openapi.json');
      expect(res.body.components.schemas.PatchWidgetDto.properties.color).toMatchObject({ nullable: true, enum: ['red', 'blue', null] });
    });
  });
});
