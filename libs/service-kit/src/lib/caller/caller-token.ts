import { webcrypto } from 'node:crypto';
import { ROLES, type CallerContext } from '@tessera/contracts';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';

export const CALLER_TOKEN_ISSUER = 'tessera-gateway';
export const CALLER_TOKEN_AUDIENCE = 'tessera-services';
const ALGORITHM = 'HS256';
const MIN_SECRET_LENGTH = 32;
// Gateway and service clocks may drift a little; tokens live 60 s, so a few seconds of leeway is harmless.
const CLOCK_TOLERANCE_SECONDS = 5;

export type CallerTokenFailure = 'missing' | 'expired' | 'invalid';

/** Why a caller-context token was refused; the guard answers 401 for every reason. */
export class CallerTokenError extends Error {
  constructor(
    readonly reason: CallerTokenFailure,
    message: string,
  ) {
    super(message);
    this.name = 'CallerTokenError';
  }
}

const claimsSchema = z.object({
  rid: z.string().min(1).max(200),
  tid: z.string().min(1).max(200).optional(),
  sub: z.string().min(1).max(200).optional(),
  ptype: z.enum(['user', 'api_key', 'anonymous']),
  roles: z.array(z.enum(ROLES)).max(ROLES.length),
  scopes: z.array(z.string().min(1).max(200)).max(100),
});

const keys = new Map<string, Promise<webcrypto.CryptoKey>>();

/**
 * The secret imported once as a WebCrypto key: jose imports raw key bytes again on every sign and verify, which was
 * half the cost of each (a process holds one or two secrets, so the cache stays tiny).
 */
function keyFor(secret: string): Promise<webcrypto.CryptoKey> {
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new Error(`The caller-context secret must be at least ${MIN_SECRET_LENGTH} characters`);
  }
  let key = keys.get(secret);
  if (!key) {
    key = webcrypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    keys.set(secret, key);
  }
  return key;
}

/** Signs the context the gateway forwards in `x-tessera-context` (HS256, short-lived). */
export async function signCallerContext(ctx: CallerContext, secret: string, ttlSeconds = 60): Promise<string> {
  const jwt = new SignJWT({
    rid: ctx.requestId,
    ...(ctx.tenantId ? { tid: ctx.tenantId } : {}),
    ptype: ctx.principalType,
    roles: ctx.roles,
    scopes: ctx.scopes,
  })
    .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
    .setIssuer(CALLER_TOKEN_ISSUER)
    .setAudience(CALLER_TOKEN_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds);
  if (ctx.principalId) jwt.setSubject(ctx.principalId);
  return jwt.sign(await keyFor(secret));
}

/**
 * Verifies a caller-context token and returns its context. Only HS256 is accepted (so `alg: none` and key
 * confusion fail), issuer, audience and expiry are checked, and the claims must have the contract's shape.
 */
export async function verifyCallerContext(token: string, secret: string): Promise<CallerContext> {
  if (!token) throw new CallerTokenError('missing', 'The caller context is missing');
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(token, await keyFor(secret), {
      algorithms: [ALGORITHM],
      issuer: CALLER_TOKEN_ISSUER,
      audience: CALLER_TOKEN_AUDIENCE,
      requiredClaims: ['exp', 'iat'],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
    }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) {
      throw new CallerTokenError('expired', 'The caller context has expired');
    }
    throw new CallerTokenError('invalid', 'The caller context is invalid');
  }
  const claims = claimsSchema.safeParse(payload);
  if (!claims.success) throw new CallerTokenError('invalid', 'The caller context has malformed claims');
  const { rid, tid, sub, ptype, roles, scopes } = claims.data;
  return {
    requestId: rid,
    ...(tid ? { tenantId: tid } : {}),
    ...(sub ? { principalId: sub } : {}),
    principalType: ptype,
    roles,
    scopes,
  };
}
