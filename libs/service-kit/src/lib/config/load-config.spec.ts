import { z } from 'zod';
import { baseConfigSchema, portSchema } from './base-config';
import { ConfigurationError, loadConfig } from './load-config';
import { REDACTED, redactConfig, secret } from './secrets';

const SECRET = 's'.repeat(32);

describe('loadConfig', () => {
  it('parses and applies defaults', () => {
    const config = loadConfig(baseConfigSchema, { INTERNAL_TOKEN_SECRET: SECRET, PORT: '3101' });
    expect(config).toEqual({ PORT: 3101, LOG_LEVEL: 'info', INTERNAL_TOKEN_SECRET: SECRET, SHUTDOWN_TIMEOUT_MS: 10_000 });
  });

  it('names every bad variable and why', () => {
    const load = () =>
      loadConfig(baseConfigSchema, { PORT: 'eighty', LOG_LEVEL: 'loud', INTERNAL_TOKEN_SECRET: 'short' });
    expect(load).toThrow(ConfigurationError);
    expect(load).toThrow(/^Invalid configuration: /);
    expect(load).toThrow(/PORT: expected number/);
    expect(load).toThrow(/LOG_LEVEL: Invalid option/);
    expect(load).toThrow(/INTERNAL_TOKEN_SECRET: Too small: expected string to have >=32 characters/);
  });

  it('says a missing variable is required, and treats empty as missing', () => {
    expect(() => loadConfig(baseConfigSchema, { INTERNAL_TOKEN_SECRET: '' })).toThrow(
      /INTERNAL_TOKEN_SECRET: is required/,
    );
  });

  it('never puts a secret value in the error', () => {
    const leaked = 'hunter2-is-my-password';
    try {
      loadConfig(baseConfigSchema, { INTERNAL_TOKEN_SECRET: leaked });
      throw new Error('expected a configuration error');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).not.toContain(leaked);
    }
  });

  it('lets services extend the base schema', () => {
    const schema = baseConfigSchema.extend({
      PORT: portSchema.default(3101),
      IDENTITY_DATABASE_URL: secret(z.string().url()),
    });
    const config = loadConfig(schema, { INTERNAL_TOKEN_SECRET: SECRET, IDENTITY_DATABASE_URL: 'postgres://u:p@h/db' });
    expect(config.PORT).toBe(3101);
    expect(() => loadConfig(schema, { INTERNAL_TOKEN_SECRET: SECRET, IDENTITY_DATABASE_URL: 'nope' })).toThrow(
      /IDENTITY_DATABASE_URL/,
    );
  });
});

describe('redactConfig', () => {
  it('masks fields marked secret, secret-looking names and URL passwords', () => {
    const schema = z.object({ SIGNING_MATERIAL: secret(z.string()), DATABASE_URL: z.string(), PORT: z.number() });
    const redacted = redactConfig(
      {
        SIGNING_MATERIAL: 'abc',
        DATABASE_URL: 'postgres://tessera:pa55@localhost:5432/tessera',
        PORT: 1,
        DB_APP_PASSWORD: 'x',
        JWT_SIGNING_KEYS: '[...]',
      },
      schema,
    );
    expect(redacted).toEqual({
      SIGNING_MATERIAL: REDACTED,
      DATABASE_URL: `postgres://tessera:${encodeURIComponent(REDACTED)}@localhost:5432/tessera`,
      PORT: 1,
      DB_APP_PASSWORD: REDACTED,
      JWT_SIGNING_KEYS: REDACTED,
    });
  });

  it('finds the secret mark through defaults', () => {
    const schema = z.object({ OPAQUE: secret(z.string()).default('d') });
    expect(redactConfig({ OPAQUE: 'value' }, schema)).toEqual({ OPAQUE: REDACTED });
  });
});
