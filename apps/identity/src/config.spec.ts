import { randomBytes } from 'node:crypto';
import { ConfigurationError, loadConfig } from '@tessera/service-kit';
import { exportJWK, generateKeyPair } from 'jose';
import { identityConfigSchema } from './config';
import { loadSigningKeys } from './crypto/signing-keys';

const base = {
  INTERNAL_TOKEN_SECRET: 'x'.repeat(40),
  JWT_SIGNING_KEYS: '[]',
  CREDENTIALS_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
};

async function privateJwk(kid: string) {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid };
}

describe('identity configuration', () => {
  it('defaults the port to 3101 and the token lifetime to 15 minutes', () => {
    const config = loadConfig(identityConfigSchema, base);
    expect(config.PORT).toBe(3101);
    expect(config.ACCESS_TOKEN_TTL_SECONDS).toBe(900);
  });

  it('fails naming the bad variable, without echoing the secret', () => {
    const bad = () => loadConfig(identityConfigSchema, { ...base, CREDENTIALS_ENCRYPTION_KEYS: 'k1:dG9vLXNob3J0' });
    expect(bad).toThrow(ConfigurationError);
    expect(bad).toThrow(/CREDENTIALS_ENCRYPTION_KEYS: key "k1" must be 32 bytes/);
    expect(bad).not.toThrow(/dG9vLXNob3J0/);
    expect(() => loadConfig(identityConfigSchema, { ...base, JWT_SIGNING_KEYS: undefined })).toThrow(
      /JWT_SIGNING_KEYS: is required/,
    );
  });

  it('loads signing keys: the first signs, all are published without private parts', async () => {
    const keys = await loadSigningKeys(JSON.stringify([await privateJwk('new'), await privateJwk('old')]));
    expect(keys.map((k) => k.kid)).toEqual(['new', 'old']);
    for (const k of keys) {
      expect(k.publicJwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: k.kid });
      expect(k.publicJwk.d).toBeUndefined();
    }
    await expect(loadSigningKeys('not json')).rejects.toThrow(/not valid JSON/);
    await expect(loadSigningKeys('[]')).rejects.toThrow(/non-empty/);
    const { d: _d, ...publicOnly } = await privateJwk('pub');
    await expect(loadSigningKeys(JSON.stringify([publicOnly]))).rejects.toThrow(/private EC P-256/);
  });
});
