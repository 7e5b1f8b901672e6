import { createHmac } from 'node:crypto';
import { ROLES, type CallerContext } from '@tessera/contracts';
import { createSigner, createVerifier, TokenError } from 'fast-jwt';
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
  ptype: z.enum(['user', 'api_key', 'anonymous', 'internal']),
  roles: z.array(z.enum(ROLES)).max(ROLES.length),
  scopes: z.array(z.string().min(1).max(200)).max(100),
});

type Sign = (payload: Record<string, unknown>) => string;
type Verify = (token: string) => Record<string, unknown>;

/**
 * One signer and one verifier per secret (a process holds one or two). fast-jwt computes HS256 with node:crypto's
 * HMAC in the calling thread: every request is signed once by the gateway and verified once by a service, and a
 * WebCrypto HMAC (jose) was a thread-pool job each time, 10–17 % of the gateway's CPU under load.
 */
const signers = new Map<string, Sign>();
const verifiers = new Map<string, Verify>();

function checkSecret(secret: string): void {
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new Error(`The caller-context secret must be at least ${MIN_SECRET_LENGTH} characters`);
  }
}

function signerFor(secret: string): Sign {
  let sign = signers.get(secret);
  if (!sign) {
    checkSecret(secret);
    sign = createSigner({ key: secret, algorithm: ALGORITHM, iss: CALLER_TOKEN_ISSUER, aud: CALLER_TOKEN_AUDIENCE }) as Sign;
    signers.set(secret, sign);
  }
  return sign;
}

function verifierFor(secret: string): Verify {
  let verify = verifiers.get(secret);
  if (!verify) {
    checkSecret(secret);
    verify = createVerifier({
      key: secret,
      algorithms: [ALGORITHM],
      allowedIss: CALLER_TOKEN_ISSUER,
      allowedAud: CALLER_TOKEN_AUDIENCE,
      requiredClaims: ['exp', 'iat'],
      clockTolerance: CLOCK_TOLERANCE_SECONDS * 1000,
    }) as Verify;
    verifiers.set(secret, verify);
  }
  return verify;
}

/**
 * The key one service verifies caller contexts with, derived from the platform's INTERNAL_TOKEN_SECRET. Only the
 * gateway (and the operator's tools) hold that secret; each service gets its own key, and the gateway signs what it
 * forwards to a service with that service's key. A service whose key leaks can then forge calls to itself only,
 * never to identity or to another service. tools/launcher/start.js derives the same keys.
 */
export function serviceContextKey(secret: string, service: string): string {
  checkSecret(secret);
  return createHmac('sha256', secret).update(`tessera.caller-context.${service}`).digest('base64url');
}

/** Signs the context the gateway forwards in `x-tessera-context` (HS256, short-lived), with the service's key. */
export async function signCallerContext(ctx: CallerContext, secret: string, ttlSeconds = 60): Promise<string> {
  const sign = signerFor(secret);
  return sign({
    rid: ctx.requestId,
    ...(ctx.tenantId ? { tid: ctx.tenantId } : {}),
    ...(ctx.principalId ? { sub: ctx.principalId } : {}),
    ptype: ctx.principalType,
    roles: ctx.roles,
    scopes: ctx.scopes,
    // Set here rather than with the signer's expiresIn, so one signer serves every ttl.
    exp: Math.floor(Date.now() / 1000) + ttlSeconds,
  });
}

/**
 * Verifies a caller-context token and returns its context. Only HS256 is accepted (so `alg: none` and key
 * confusion fail), issuer, audience and expiry are checked, and the claims must have the contract's shape.
 */
export async function verifyCallerContext(token: string, secret: string): Promise<CallerContext> {
  if (!token) throw new CallerTokenError('missing', 'The caller context is missing');
  const verify = verifierFor(secret);
  let payload: unknown;
  try {
    payload = verify(token);
  } catch (error) {
    if (error instanceof TokenError && error.code === TokenError.codes.expired) {
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
