import type { CallerContext } from '@tessera/contracts';
import { SignJWT } from 'jose';
import { CallerTokenError, serviceContextKey, signCallerContext, verifyCallerContext } from './caller-token';

const SECRET = 'a-caller-context-secret-of-32-chars!';
const caller: CallerContext = {
  requestId: 'req-1',
  tenantId: 'tenant-1',
  principalId: 'user-1',
  principalType: 'user',
  roles: ['admin'],
  scopes: [],
};
const key = new TextEncoder().encode(SECRET);

async function rejection(promise: Promise<unknown>): Promise<CallerTokenError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(CallerTokenError);
    return error as CallerTokenError;
  }
  throw new Error('expected the token to be refused');
}

describe('caller-context tokens', () => {
  it('round-trips the context', async () => {
    const token = await signCallerContext(caller, SECRET);
    await expect(verifyCallerContext(token, SECRET)).resolves.toEqual(caller);
  });

  it('round-trips an anonymous context without tenant or principal', async () => {
    const anonymous: CallerContext = { requestId: 'r', principalType: 'anonymous', roles: [], scopes: [] };
    await expect(verifyCallerContext(await signCallerContext(anonymous, SECRET), SECRET)).resolves.toEqual(anonymous);
  });

  it('uses the contract claims, issuer and audience', async () => {
    const token = await signCallerContext(caller, SECRET, 60);
    const [header, payload] = token.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
    expect(header).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(payload).toMatchObject({
      iss: 'tessera-gateway',
      aud: 'tessera-services',
      rid: 'req-1',
      tid: 'tenant-1',
      sub: 'user-1',
      ptype: 'user',
      roles: ['admin'],
      scopes: [],
    });
    expect(payload.exp - payload.iat).toBe(60);
  });

  it('refuses an expired token as expired', async () => {
    const token = await signCallerContext(caller, SECRET, -30);
    expect((await rejection(verifyCallerContext(token, SECRET))).reason).toBe('expired');
  });

  it('refuses a wrong secret, a missing token and garbage', async () => {
    const token = await signCallerContext(caller, 'another-secret-of-at-least-32-chars');
    expect((await rejection(verifyCallerContext(token, SECRET))).reason).toBe('invalid');
    expect((await rejection(verifyCallerContext('', SECRET))).reason).toBe('missing');
    expect((await rejection(verifyCallerContext('a.b.c', SECRET))).reason).toBe('invalid');
  });

  it('refuses alg none and other algorithms', async () => {
    const claims = { rid: 'r', ptype: 'user', roles: [], scopes: [] };
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(
      JSON.stringify({ ...claims, iss: 'tessera-gateway', aud: 'tessera-services', iat: 1, exp: 9999999999 }),
    ).toString('base64url')}.`;
    expect((await rejection(verifyCallerContext(none, SECRET))).reason).toBe('invalid');
    const hs512 = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS512' })
      .setIssuer('tessera-gateway')
      .setAudience('tessera-services')
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(new TextEncoder().encode(SECRET.repeat(2)));
    expect((await rejection(verifyCallerContext(hs512, SECRET))).reason).toBe('invalid');
  });

  it('refuses another issuer or audience, and malformed claims', async () => {
    const sign = (claims: Record<string, unknown>, issuer: string, audience: string) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(key);
    const good = { rid: 'r', ptype: 'user', roles: ['admin'], scopes: [] };
    await rejection(verifyCallerContext(await sign(good, 'someone-else', 'tessera-services'), SECRET));
    await rejection(verifyCallerContext(await sign(good, 'tessera-gateway', 'other'), SECRET));
    await rejection(verifyCallerContext(await sign({ ...good, roles: ['superuser'] }, 'tessera-gateway', 'tessera-services'), SECRET));
    await rejection(verifyCallerContext(await sign({ ...good, ptype: 'root' }, 'tessera-gateway', 'tessera-services'), SECRET));
  });

  it('refuses a short secret', async () => {
    await expect(signCallerContext(caller, 'short')).rejects.toThrow(/at least 32/);
  });

  it("derives each service's key from the platform's secret: stable, long enough, and no key verifies another's tokens", async () => {
    const keys = ['identity', 'catalog', 'orders'].map((service) => serviceContextKey(SECRET, service));
    expect(new Set([SECRET, ...keys]).size).toBe(4);
    expect(serviceContextKey(SECRET, 'catalog')).toBe(keys[1]);
    expect(serviceContextKey('another-secret-of-at-least-32-characters', 'catalog')).not.toBe(keys[1]);
    for (const k of keys) expect(k.length).toBeGreaterThanOrEqual(32);
    const forCatalog = await signCallerContext(caller, keys[1]);
    await expect(verifyCallerContext(forCatalog, keys[1])).resolves.toEqual(caller);
    for (const other of [SECRET, keys[0], keys[2]]) expect((await rejection(verifyCallerContext(forCatalog, other))).reason).toBe('invalid');
    expect(() => serviceContextKey('short', 'catalog')).toThrow(/at least 32/);
  });
});
