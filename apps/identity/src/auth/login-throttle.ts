import { Inject, Injectable } from '@nestjs/common';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { IDENTITY_CONFIG, type IdentityConfig } from '../config';

/**
 * Counts failed logins per account (email) and per client address over a sliding window, and blocks further
 * attempts once either reaches its limit; a successful login clears the account's counter.
 *
 * The counters live in this process's memory: identity runs as one process in the embedded setup, and a
 * restart only forgets recent failures. With several replicas each would count on its own (an attacker gets
 * N times the budget); switching to rate-limiter-flexible's RateLimiterPostgres would share them.
 */
@Injectable()
export class LoginThrottle {
  private readonly perAccount: RateLimiterMemory;
  private readonly perAddress: RateLimiterMemory;

  constructor(@Inject(IDENTITY_CONFIG) config: IdentityConfig) {
    const duration = config.LOGIN_THROTTLE_WINDOW_SECONDS;
    this.perAccount = new RateLimiterMemory({
      keyPrefix: 'login_account',
      points: config.LOGIN_MAX_FAILURES_PER_ACCOUNT,
      duration,
    });
    this.perAddress = new RateLimiterMemory({
      keyPrefix: 'login_address',
      points: config.LOGIN_MAX_FAILURES_PER_ADDRESS,
      duration,
    });
  }

  /** Seconds until the next attempt is allowed, or 0 when neither limit is reached. */
  async retryAfter(email: string, address: string): Promise<number> {
    const [account, addr] = await Promise.all([this.perAccount.get(accountKey(email)), this.perAddress.get(address)]);
    const waits = [
      account && account.remainingPoints <= 0 ? account.msBeforeNext : 0,
      addr && addr.remainingPoints <= 0 ? addr.msBeforeNext : 0,
    ];
    const ms = Math.max(...waits);
    return ms > 0 ? Math.ceil(ms / 1000) : 0;
  }

  async recordFailure(email: string, address: string): Promise<void> {
    // penalty() adds points without rejecting, so the failure that reaches the limit is still answered 401.
    await Promise.all([this.perAccount.penalty(accountKey(email)), this.perAddress.penalty(address)]);
  }

  async recordSuccess(email: string): Promise<void> {
    await this.perAccount.delete(accountKey(email));
  }
}

function accountKey(email: string): string {
  return email.trim().toLowerCase();
}
