import { CONTEXT_HEADER, REQUEST_ID_HEADER } from '@tessera/contracts';
import type { z } from 'zod';
import { GatewayError } from '../http/problem';
import { internalContext, type CallerContextSigner } from './caller-context-signer';
import { TtlLruCache } from './ttl-lru-cache';

const LOOKUP_TIMEOUT_MS = 5_000;

export interface LookupCacheOptions {
  ttlMs: number;
  maxEntries: number;
  /** The cache's clock (tests move it). */
  now?: () => number;
}

/**
 * A fact identity keeps current (a tenant's status, a user's status and role), read from one of its `/internal`
 * routes with the gateway's internal context and cached per key for a short TTL. Answers are cached, `unknown`
 * (identity answered 404 or 400) included; failures never are, and concurrent lookups of one key share one call.
 * Identity down, or answering something `answer` does not parse, is a 503: the gateway refuses rather than guess.
 */
export class IdentityLookup<T> {
  private readonly cache: TtlLruCache<T | 'unknown'>;
  private readonly inFlight = new Map<string, Promise<T | 'unknown'>>();

  constructor(
    private readonly identityUrl: string,
    private readonly signContext: CallerContextSigner,
    private readonly answer: z.ZodType<T>,
    private readonly what: string,
    options: LookupCacheOptions,
  ) {
    this.cache = new TtlLruCache(options.maxEntries, options.ttlMs, options.now);
  }

  /** `path` is identity's route for `key` (already encoded). */
  async get(key: string, path: string, requestId: string): Promise<T | 'unknown'> {
    const cached = this.cache.get(key);
    if (cached) return cached;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.ask(path, requestId)
        .then((value) => {
          this.cache.set(key, value);
          return value;
        })
        .finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private async ask(path: string, requestId: string): Promise<T | 'unknown'> {
    let response: Response;
    try {
      response = await fetch(`${this.identityUrl}${path}`, {
        headers: {
          [CONTEXT_HEADER]: await this.signContext(internalContext(requestId)),
          [REQUEST_ID_HEADER]: requestId,
        },
        signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS),
      });
    } catch {
      throw this.unavailable();
    }
    // 404: no such thing; 400: not even a valid id. Either way identity has answered.
    if (response.status === 404 || response.status === 400) {
      await response.body?.cancel();
      return 'unknown';
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw this.unavailable();
    }
    const parsed = this.answer.safeParse(await response.json().catch(() => undefined));
    if (!parsed.success) throw this.unavailable();
    return parsed.data;
  }

  private unavailable(): GatewayError {
    return new GatewayError({ status: 503, detail: `Cannot check the ${this.what} right now: identity unavailable` });
  }
}
