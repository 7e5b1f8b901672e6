import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimitRule } from '../config';
import { GatewayError } from '../http/problem';

export type RateLimitHeaders = Record<string, string>;

/**
 * One fixed-window limit. The store is this process's memory: with several gateway instances each one counts
 * on its own, so the effective limit is multiplied by the number of instances.
 */
export class RateLimit {
  private readonly limiter: RateLimiterMemory;

  constructor(
    readonly name: string,
    private readonly rule: RateLimitRule,
  ) {
    this.limiter = new RateLimiterMemory({ keyPrefix: name, points: rule.points, duration: rule.windowSeconds });
  }

  /** Takes one point for `key`; resolves to the RateLimit headers or throws a 429 carrying them and Retry-After. */
  async consume(key: string): Promise<RateLimitHeaders> {
    try {
      return this.headers(await this.limiter.consume(key));
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      const retryAfter = String(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
      throw new GatewayError({
        status: 429,
        title: 'Too Many Requests',
        detail: `Rate limit "${this.name}" exceeded; retry after ${retryAfter} s`,
        headers: { ...this.headers(rejection), 'retry-after': retryAfter },
      });
    }
  }

  private headers(res: RateLimiterRes): RateLimitHeaders {
    return {
      'ratelimit-policy': `${this.rule.points};w=${this.rule.windowSeconds}`,
      'ratelimit-limit': String(this.rule.points),
      'ratelimit-remaining': String(Math.max(0, res.remainingPoints)),
      'ratelimit-reset': String(Math.max(0, Math.ceil(res.msBeforeNext / 1000))),
    };
  }
}

/** The gateway's limits: every request per client address, signup and login per address, and per tenant. */
export class RateLimits {
  readonly address: RateLimit;
  readonly credentials: RateLimit;
  readonly tenant: RateLimit;

  constructor(rules: { address: RateLimitRule; auth: RateLimitRule; tenant: RateLimitRule }) {
    this.address = new RateLimit('address', rules.address);
    this.credentials = new RateLimit('credentials', rules.auth);
    this.tenant = new RateLimit('tenant', rules.tenant);
  }
}
