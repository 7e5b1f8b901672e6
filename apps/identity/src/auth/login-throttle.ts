import { Inject, Injectable } from '@nestjs/common';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { IDENTITY_CONFIG, type IdentityConfig } from '../config';

/**
 * Counts login attempts per account (email) and per client address over a window, and blocks further attempts
 * once either reaches its limit; a successful login clears the account's counter and does not count against the
 * address, so the limits bound failures.
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

  /**
   * Takes one attempt from the account's and the address's budgets before the password is checked, and answers
   * the seconds to wait (0: go ahead). Taking it first is what makes the limit hold for attempts sent at once: a
   * check that only read the counters let twenty simultaneous guesses all see zero failures during their hashing.
   */
  async acquire(email: string, address: string): Promise<number> {
    const account = accountKey(email);
    try {
      await this.perAccount.consume(account);
    } catch (refused) {
      return waitOf(refused);
    }
    try {
      await this.perAddress.consume(address);
    } catch (refused) {
      await this.perAccount.reward(account, 1);
      return waitOf(refused);
    }
    return 0;
  }

  /** A successful login clears the account's failures and gives the address its attempt back. */
  async recordSuccess(email: string, address: string): Promise<void> {
    await Promise.all([this.perAccount.delete(accountKey(email)), this.perAddress.reward(address, 1)]);
  }
}

/** rate-limiter-flexible rejects with its result (msBeforeNext); anything else is a real error. */
function waitOf(refused: unknown): number {
  if (refused instanceof Error) throw refused;
  const ms = (refused as { msBeforeNext?: number }).msBeforeNext ?? 1000;
  return Math.max(1, Math.ceil(ms / 1000));
}

function accountKey(email: string): string {
  return email.trim().toLowerCase();
}
