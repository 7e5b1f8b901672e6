import { createHash, randomUUID } from 'node:crypto';
import { CONTEXT_HEADER } from '@tessera/contracts';
import { createRemoteJWKSet, customFetch, errors, jwtVerify, type JWTPayload } from 'jose';
import { GatewayError } from '../http/problem';
import { anonymousContext, type CallerContextSigner } from './caller-context-signer';
import { parseRoles, parseScopes, type Principal } from './principal';
import { TtlLruCache } from './ttl-lru-cache';

/** Only asymmetric algorithms: an HS256 token "signed" with the public key, or `alg: none`, never verifies. */
export const ACCESS_TOKEN_ALGORITHMS = ['ES256', 'RS256', 'EdDSA'];
export const ACCESS_TOKEN_ISSUER = 'tessera-identity';
export const ACCESS_TOKEN_AUDIENCE = 'tessera';
const MAX_TOKEN_LENGTH = 8192;

// Failures that are the token's fault (401); any other failure means the JWKS could not be had (503).
const TOKEN_ERROR_CODES = new Set([
  errors.JWTExpired.code,
  errors.JWTClaimValidationFailed.code,
  errors.JWTInvalid.code,
  errors.JWSInvalid.code,
  errors.JWSSignatureVerificationFailed.code,
  errors.JOSEAlgNotAllowed.code,
  errors.JOSENotSupported.code,
  errors.JWKSNoMatchingKey.code,
  errors.JWKSMultipleMatchingKeys.code,
]);

export interface AccessTokenVerifierOptions {
  /** How long the JWKS is used before it is fetched again. */
  jwksCacheMaxAgeMs: number;
  /** Verified tokens are reused until they expire, for at most `ttlMs`; failures are never kept. */
  verifiedCache: { ttlMs: number; maxEntries: number };
  /** The clock for expiry, of the cache and of the token itself (tests move it). */
  now?: () => number;
}

/**
 * Verifies identity's access JWTs against its published JWKS (fetched lazily, cached, refetched on an unknown kid).
 * A client sends the same token on every request until it expires, and checking its ECDSA signature was the largest
 * part of the gateway's CPU per request: a verified token's principal is kept in a bounded cache, keyed by the
 * token's SHA-256 (raw tokens are not kept), until the token's `exp` and for no longer than the cache TTL.
 */
export class AccessTokenVerifier {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;
  private readonly verified: TtlLruCache<Principal>;
  private readonly now: () => number;

  constructor(identityUrl: string, options: AccessTokenVerifierOptions, signContext: CallerContextSigner) {
    this.now = options.now ?? Date.now;
    this.verified = new TtlLruCache(options.verifiedCache.maxEntries, options.verifiedCache.ttlMs, this.now);
    this.jwks = createRemoteJWKSet(new URL('/.well-known/jwks.json', identityUrl), {
      cacheMaxAge: options.jwksCacheMaxAgeMs,
      cooldownDuration: 30_000,
      timeoutDuration: 5_000,
      // Services refuse calls without a gateway context, so each fetch carries a fresh anonymous one.
      [customFetch]: async (url, options) => {
        const headers = new Headers(options.headers);
        headers.set(CONTEXT_HEADER, await signContext(anonymousContext(randomUUID())));
        return fetch(url, { ...options, headers });
      },
    });
  }

  async verify(token: string): Promise<Principal> {
    if (token.length > MAX_TOKEN_LENGTH || token.split('.').length !== 3) throw unauthorized('Malformed access token');
    const cacheKey = createHash('sha256').update(token).digest('base64url');
    const cached = this.verified.get(cacheKey);
    if (cached) return cached;
    const payload = await this.verifySignedClaims(token);
    const principal = toPrincipal(payload);
    // jose refuses a token once `now >= exp` (in seconds), so the entry must be gone by exp * 1000.
    this.verified.set(cacheKey, principal, (payload.exp as number) * 1000 - this.now());
    return principal;
  }

  private async verifySignedClaims(token: string): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(token, this.jwks, {
        algorithms: ACCESS_TOKEN_ALGORITHMS,
        issuer: ACCESS_TOKEN_ISSUER,
        audience: ACCESS_TOKEN_AUDIENCE,
        requiredClaims: ['sub', 'exp'],
        currentDate: new Date(this.now()),
      });
      return payload;
    } catch (error) {
      if (error instanceof errors.JOSEError && TOKEN_ERROR_CODES.has(error.code)) {
        throw unauthorized(error instanceof errors.JWTExpired ? 'Access token expired' : 'Invalid access token');
      }
      throw new GatewayError({ status: 503, detail: 'Cannot verify access tokens right now: identity keys unavailable' });
    }
  }
}

function toPrincipal(payload: JWTPayload): Principal {
  const tenantId = payload['tid'] ?? payload['tenant_id'];
  if (typeof payload.sub !== 'string' || typeof tenantId !== 'string') throw unauthorized('Access token lacks tenant or subject');
  // The `tenant_status` claim is not used: it is as old as the token; the Authenticator asks for the current one.
  return {
    tenantId,
    principalId: payload.sub,
    principalType: 'user',
    roles: parseRoles(payload['roles'], payload['role']),
    scopes: parseScopes(payload['scopes'] ?? payload['scope']),
  };
}

export function unauthorized(detail: string): GatewayError {
  return new GatewayError({ status: 401, detail, headers: { 'www-authenticate': 'Bearer realm="tessera"' } });
}
