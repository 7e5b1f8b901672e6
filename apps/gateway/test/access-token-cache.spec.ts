import { signCallerContext } from '@tessera/service-kit';
import { base64url } from 'jose';
import { AccessTokenVerifier } from '../src/auth/access-token-verifier';
import { GatewayError } from '../src/http/problem';
import { FakeIdentity, IDENTITY_KEY } from './fake-identity';

const JWKS_PATH = '/.well-known/jwks.json';

/**
 * The verified-token cache. The JWKS is given a 1 ms lifetime, so every signature check fetches it again:
 * the number of JWKS fetches counts the checks, and a cache hit is a verification without one.
 */
describe('AccessTokenVerifier cache', () => {
  let identity: FakeIdentity;
  let now: number;

  beforeAll(async () => {
    identity = await new FakeIdentity().init();
  });

  afterAll(() => identity.stop());

  beforeEach(() => {
    identity.requests.splice(0);
    now = Date.now();
  });

  function verifier(ttlMs = 60_000): AccessTokenVerifier {
    return new AccessTokenVerifier(
      identity.url,
      { jwksCacheMaxAgeMs: 1, verifiedCache: { ttlMs, maxEntries: 100 }, now: () => now },
      (context) => signCallerContext(context, IDENTITY_KEY),
    );
  }

  async function jwksGoesStale(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }

  async function refusal(promise: Promise<unknown>): Promise<GatewayError> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(GatewayError);
    return error as GatewayError;
  }

  it('checks a token once and answers from the cache until the cache TTL', async () => {
    const tokens = verifier(30_000);
    const token = await identity.token({ sub: 'user-5', tid: 'tenant-5', roles: ['staff'] }, { expiresIn: '10m' });
    const first = await tokens.verify(token);
    expect(first).toMatchObject({ principalId: 'user-5', tenantId: 'tenant-5', roles: ['staff'] });
    await jwksGoesStale();
    now += 29_000;
    expect(await tokens.verify(token)).toEqual(first);
    expect(identity.received(JWKS_PATH)).toHaveLength(1);

    now += 1_000;
    await jwksGoesStale();
    expect(await tokens.verify(token)).toEqual(first);
    expect(identity.received(JWKS_PATH)).toHaveLength(2);
  });

  it('refuses an expired token even though it was cached', async () => {
    const tokens = verifier();
    const exp = Math.floor(now / 1000) + 20;
    const token = await identity.token({}, { expiresIn: exp });
    await tokens.verify(token);
    now = exp * 1000 - 1;
    expect((await tokens.verify(token)).principalId).toBe('user-1');

    now = exp * 1000;
    const error = await refusal(tokens.verify(token));
    expect(error.problem.status).toBe(401);
    expect(error.problem.detail).toMatch(/expired/);
  });

  it('never caches a failure: a refused token is checked again each time', async () => {
    const tokens = verifier();
    const [header, payload, signature] = (await identity.token({ roles: ['viewer'] })).split('.');
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload)));
    const forged = `${header}.${base64url.encode(JSON.stringify({ ...claims, roles: ['owner'] }))}.${signature}`;
    for (let attempt = 1; attempt <= 2; attempt++) {
      await jwksGoesStale();
      expect((await refusal(tokens.verify(forged))).problem.status).toBe(401);
      expect(identity.received(JWKS_PATH)).toHaveLength(attempt);
    }
  });

  it('keeps each token apart: another token of the same user is checked on its own', async () => {
    const tokens = verifier();
    const viewer = await identity.token({ sub: 'user-7', roles: ['viewer'] });
    const owner = await identity.token({ sub: 'user-7', roles: ['owner'] });
    expect((await tokens.verify(viewer)).roles).toEqual(['viewer']);
    await jwksGoesStale();
    expect((await tokens.verify(owner)).roles).toEqual(['owner']);
    expect((await tokens.verify(viewer)).roles).toEqual(['viewer']);
    expect(identity.received(JWKS_PATH)).toHaveLength(2);
  });
});
