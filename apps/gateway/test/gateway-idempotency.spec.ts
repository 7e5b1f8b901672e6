import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { FakeIdentity } from './fake-identity';
import { FakeUpstream, json, type RecordedRequest } from './fake-upstream';
import { startGateway, testConfig } from './gateway-harness';

/** The create routes that honour Idempotency-Key, by the upstream that owns them. */
const CREATE_ROUTES: Record<string, string[]> = {
  identity: ['/v1/users', '/v1/stores', '/v1/vendors', '/v1/api-keys'],
  catalog: ['/v1/products'],
  inventory: ['/v1/inventory/locations', '/v1/inventory/movements'],
  orders: ['/v1/orders'],
  // The retry opens a new payment; any payment id will do for the fake upstream.
  billing: ['/v1/payments/00000000-0000-4000-8000-000000000001/retry'],
};

/** Answers as a service replaying a stored response would, echoing the key it received. */
function replayingUpstream(upstream: FakeUpstream, paths: string[]): void {
  for (const path of paths) {
    upstream.route('POST', path, (req: RecordedRequest, res) => {
      res.setHeader('idempotent-replayed', 'true');
      json(res, 201, { receivedKey: req.headers['idempotency-key'] ?? null });
    });
  }
}

describe('gateway and Idempotency-Key', () => {
  let identity: FakeIdentity;
  const others = new Map<string, FakeUpstream>();
  let app: NestExpressApplication;
  let token: string;

  beforeAll(async () => {
    identity = await new FakeIdentity().init();
    replayingUpstream(identity, CREATE_ROUTES.identity);
    for (const name of Object.keys(CREATE_ROUTES).filter((n) => n !== 'identity')) {
      const upstream = await new FakeUpstream().start();
      replayingUpstream(upstream, CREATE_ROUTES[name]);
      others.set(name, upstream);
    }
    const config = testConfig(identity.url);
    config.upstreams = config.upstreams.map((u) => ({ ...u, url: others.get(u.name)?.url ?? u.url }));
    app = await startGateway(config);
    token = await identity.token();
  });

  afterAll(async () => {
    await app.close();
    await identity.stop();
    for (const upstream of others.values()) await upstream.stop();
  });

  it.each(Object.entries(CREATE_ROUTES).flatMap(([name, paths]) => paths.map((path) => [name, path])))(
    'forwards the key to %s for POST %s and the replay header back',
    async (_name, path) => {
      const res = await request(app.getHttpServer())
        .post(path)
        .set('authorization', `Bearer ${token}`)
        .set('Idempotency-Key', `key-for-${path}`)
        .send({});
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ receivedKey: `key-for-${path}` });
      expect(res.headers['idempotent-replayed']).toBe('true');
    },
  );
});
