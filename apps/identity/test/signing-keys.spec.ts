import { loadSigningKeys } from '../src/crypto/signing-keys';
import { generateSigningJwk } from './support/identity-harness';

describe('loadSigningKeys', () => {
  it('publishes only the members a verifier needs, whatever else the configured JWK carries', async () => {
    const jwk = { ...(await generateSigningJwk('k1')), x5u: 'https://keys.example/k1', secretNote: 'not for the world' };
    const [key] = await loadSigningKeys(JSON.stringify([jwk]));
    expect(key.publicJwk).toEqual({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid: 'k1', use: 'sig', alg: 'ES256' });
  });

  it('refuses a key that is not a private EC P-256 JWK, naming it', async () => {
    const { d: _d, ...publicOnly } = await generateSigningJwk('pub');
    await expect(loadSigningKeys(JSON.stringify([publicOnly]))).rejects.toThrow('JWT signing key "pub" must be a private EC P-256 JWK');
  });
});
