import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { bootstrapService } from '../src';
import { FixtureModule, LogCapture, testConfig } from './fixture.module';

// The gateway boots with trustGatewayContext: false: it authenticates callers itself, so no context is required.
describe('bootstrapService without the caller guard', () => {
  let app: INestApplication;

  beforeAll(async () => {
    app = await bootstrapService({
      name: 'gateway-like',
      module: FixtureModule,
      port: 0,
      host: '127.0.0.1',
      config: testConfig,
      trustGatewayContext: false,
      logDestination: new LogCapture(),
      handleSignals: false,
    });
  });

  afterAll(async () => {
    await app.close();
  });

  it('serves routes without a caller context, still with problem+json errors', async () => {
    const ok = await request(app.getHttpServer()).get('/widgets/scoped');
    expect(ok.status).toBe(200);
    const missing = await request(app.getHttpServer()).get('/widgets/missing');
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('does not serve an OpenAPI document unless asked to', async () => {
    expect((await request(app.getHttpServer()).get('/openapi.json')).status).toBe(404);
  });
});
