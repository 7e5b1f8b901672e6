import type { NestExpressApplication } from '@nestjs/platform-express';
import type request from 'supertest';
import { loadGatewayConfig, type GatewayConfig } from '../src/config';
import { createGatewayApp, type GatewayAppOptions } from '../src/gateway-app';
import { TEST_SECRET } from './fake-identity';

/** Gateway configuration for tests: identity at `identityUrl`, logs silenced, then `overrides`. */
export function testConfig(identityUrl: string, overrides: Partial<GatewayConfig> = {}): GatewayConfig {
  const config = loadGatewayConfig({ INTERNAL_TOKEN_SECRET: TEST_SECRET, IDENTITY_URL: identityUrl, LOG_LEVEL: 'silent' });
  return { ...config, ...overrides };
}

/** A gateway listening on an ephemeral local port. */
export async function startGateway(config: GatewayConfig, options: GatewayAppOptions = {}): Promise<NestExpressApplication> {
  const app = await createGatewayApp(config, options);
  await app.listen(0, '127.0.0.1');
  return app;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `res` is a problem+json answer with `status`. */
export function expectProblem(res: request.Response, status: number): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body.status).toBe(status);
}
