import { createHash } from 'node:crypto';
import { CONTEXT_HEADER, INVALID_API_KEY_REASON, REQUEST_ID_HEADER } from '@tessera/contracts';
import { z } from 'zod';
import { GatewayError } from '../http/problem';
import { unauthorized } from './access-token-verifier';
import { internalContext, type CallerContextSigner } from './caller-context-signer';
import { parseRoles, parseScopes, type Principal } from './principal';
import { TtlLruCache } from './ttl-lru-cache';

export const API_KEY_PREFIX = 'tsk_';
const MAX_KEY_LENGTH = 512;
const VERIFY_TIMEOUT_MS = 5_000;

// Identity's answer to POST /internal/api-keys/verify; a few spellings are accepted so the gateway does not
// break on a field rename, but tenant and key id are required. Its `tenantStatus` is not used: the answer is
// cached for API_KEY_CACHE_TTL_MS, and the Authenticator asks for the tenant's current status instead.
const verifyAnswer = z.object({
  id: z.string().optional(),
  apiKeyId: z.string().optional(),
  keyId: z.string().optional(),
  tenantId: z.string(),
  scopes: z.unknown().optional(),
  roles: z.unknown().optional(),
});

type CachedAnswer = { valid: true; principal: Principal } | { valid: false };

/**
 * Resolves API keys through identity's internal verify route. Answers (valid and invalid) are cached for a short
 * TTL keyed by the key's SHA-256, so a revoked key stops working within that window and raw keys are never kept.
 */
export class ApiKeyVerifier {
  private readonly cache: TtlLruCache<CachedAnswer>;

  constructor(
    private readonly identityUrl: string,
    private readonly signContext: CallerContextSigner,
    cache: { ttlMs: number; maxEntries: number },
  ) {
    this.cache = new TtlLruCache(cache.maxEntries, cache.ttlMs);
  }

  async verify(key: string, requestId: string): Promise<Principal> {
    if (key.length === 0 || key.length > MAX_KEY_LENGTH) throw unauthorized('Invalid API key');
    const cacheKey = createHash('sha256').update(key).digest('hex');
    let answer = this.cache.get(cacheKey);
    if (!answer) {
      answer = await this.ask(key, requestId);
      this.cache.set(cacheKey, answer);
    }
    if (!answer.valid) throw unauthorized('Invalid API key');
    return answer.principal;
  }

  private async ask(key: string, requestId: string): Promise<CachedAnswer> {
    let response: Response;
    try {
      response = await fetch(`${this.identityUrl}/internal/api-keys/verify`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [CONTEXT_HEADER]: await this.signContext(internalContext(requestId)),
          [REQUEST_ID_HEADER]: requestId,
        },
        body: JSON.stringify({ key }),
        signal: AbortSignal.timeout(VERIFY_TIMEOUT_MS),
      });
    } catch {
      throw unavailable();
    }
    // Identity refuses unknown, revoked and malformed keys: a 401 with INVALID_API_KEY_REASON, or a 400/422 when the
    // key fails its input validation. Any other refusal (its guard refusing the gateway's own context: a wrong key,
    // clock skew) says nothing about the key: 503, and nothing cached.
    if (response.status === 400 || response.status === 422) {
      await response.body?.cancel();
      return { valid: false };
    }
    if (response.status === 401) {
      const problem = (await response.json().catch(() => undefined)) as { reason?: unknown } | undefined;
      if (problem?.reason === INVALID_API_KEY_REASON) return { valid: false };
      throw unavailable();
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw unavailable();
    }
    const parsed = verifyAnswer.safeParse(await response.json().catch(() => undefined));
    const keyId = parsed.data?.id ?? parsed.data?.apiKeyId ?? parsed.data?.keyId;
    if (!parsed.success || !keyId) throw unavailable();
    return {
      valid: true,
      principal: {
        tenantId: parsed.data.tenantId,
        principalId: keyId,
        principalType: 'api_key',
        roles: parseRoles(parsed.data.roles),
        scopes: parseScopes(parsed.data.scopes),
      },
    };
  }
}

function unavailable(): GatewayError {
  return new GatewayError({ status: 503, detail: 'Cannot verify API keys right now: identity unavailable' });
}
