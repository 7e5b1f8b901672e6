import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { bootstrapService, loadConfig, baseConfigSchema } from '../src';
import { FixtureModule, LogCapture, testConfig } from './fixture.module';

/** HOST: the address a service's HTTP port listens on (`npm start` binds services to the loopback). */
describe('HOST', () => {
  const started: INestApplication[] = [];
  afterAll(async () => {
    for (const app of started) await app.close();
  });

  const boot = async (config: typeof testConfig) => {
    const app = await bootstrapService({ name: 'host-fixture', module: FixtureModule, port: 0, config, logDestination: new LogCapture(), handleSignals: false });
    started.push(app);
    return (app.getHttpServer().address() as AddressInfo).address;
  };

  it('listens on the address HOST names, and on every interface without it', async () => {
    expect(await boot({ ...testConfig, HOST: '127.0.0.1' })).toBe('127.0.0.1');
    expect(['::', '0.0.0.0']).toContain(await boot({ ...testConfig, HOST: undefined }));
  });

  it('reads HOST from the environment, an empty value as unset', () => {
    const env = { INTERNAL_TOKEN_SECRET: 'x'.repeat(32) };
    expect(loadConfig(baseConfigSchema, { ...env, HOST: '127.0.0.1' }).HOST).toBe('127.0.0.1');
    expect(loadConfig(baseConfigSchema, { ...env, HOST: '' }).HOST).toBeUndefined();
  });
});
