import { Inject, Injectable } from '@nestjs/common';
import { addressBucket } from '@tessera/service-kit';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { IDENTITY_CONFIG, type IdentityConfig } from '../config';
import { canonicalEmail } from '../common/email';

/**
 * Counts login attempts per account (email) and per client address (an IPv6 client by its /64) over a window, and blocks further attempts
 * once either reaches its limit; a successful login clears the account's counter and does not count against the
 * address, so the limits bound failures.
 *
 * An account's budget is shared by every address, so whoever knows its email could keep it locked by failing on
 * purpose. An address the account logged in from in the last KNOWN_ADDRESS_DAYS is therefore held to a budget of
 * its own for that account (the same limit) instead of the account's: the owner still gets in from where they
 * usually do, a guesser there is stopped as anywhere else, and its failures still count against the account.
 *
 * The counters live in this process's memory: identity runs as one process in the embedded setup, and a
 * restart only forgets recent failures. With several replicas each would count on its own (an attacker gets
 * N times the budget); switching to rate-limiter-flexible's RateLimiterPostgres would share them.
 */
/** How long an address that logged in stays known to its account, and how many account-address pairs are kept. */
export const KNOWN_ADDRESS_DAYS = 14;
const KNOWN_ADDRESSES_KEPT = 100_000;

@Injectable()
export class LoginThrottle {
  private readonly perAccount: RateLimiterMemory;
  private readonly perAddress: RateLimiterMemory;
  private readonly perKnownAddress: RateLimiterMemory;
  /** account + address → when it stops being known (ms); in insertion order, so the oldest go first when full. */
  private readonly known = new Map<string, number>();

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
    this.perKnownAddress = new RateLimiterMemory({
      keyPrefix: 'login_known_address',
      points: config.LOGIN_MAX_FAILURES_PER_ACCOUNT,
      duration,
    });
  }

  /**
   * Takes one attempt from the account's and the address's budgets before the password is checked, and answers
   * the seconds to wait (0: go ahead). Taking it first is what makes the limit hold for attempts sent at once: a
   * check that only read the counters let twenty simultaneous guesses all see zero failures during their hashing.
   */
  async acquire(email: string, clientAddress: string): Promise<number> {
    const address = addressBucket(clientAddress);
    const account = accountKey(email);
    const pair = pairKey(account, address);
    const charged: [RateLimiterMemory, string][] = [];
    if (this.isKnown(pair)) {
      try {
        await this.perKnownAddress.consume(pair);
      } catch (refused) {
        return waitOf(refused);
      }
      // Still counted against the account, whose limit then holds for every other address.
      await this.perAccount.penalty(account, 1);
      charged.push([this.perKnownAddress, pair], [this.perAccount, account]);
    } else {
      try {
        await this.perAccount.consume(account);
      } catch (refused) {
        return waitOf(refused);
      }
      charged.push([this.perAccount, account]);
    }
    try {
      await this.perAddress.consume(address);
    } catch (refused) {
      await Promise.all(charged.map(([limiter, key]) => limiter.reward(key, 1)));
      return waitOf(refused);
    }
    return 0;
  }

  /**
   * A successful login clears the account's failures and those of this address for it, gives the address its
   * attempt back, and makes the address known to the account.
   */
  async recordSuccess(email: string, clientAddress: string): Promise<void> {
    const address = addressBucket(clientAddress);
    const account = accountKey(email);
    const pair = pairKey(account, address);
    this.remember(pair);
    await Promise.all([this.perAccount.delete(account), this.perKnownAddress.delete(pair), this.perAddress.reward(address, 1)]);
  }

  private isKnown(pair: string): boolean {
    const until = this.known.get(pair);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.known.delete(pair);
    return false;
  }

  private remember(pair: string): void {
    this.known.delete(pair); // re-inserted at the end: the most recently used pairs are evicted last
    this.known.set(pair, Date.now() + KNOWN_ADDRESS_DAYS * 86_400_000);
    if (this.known.size > KNOWN_ADDRESSES_KEPT) this.known.delete(this.known.keys().next().value as string);
  }
}

/** rate-limiter-flexible rejects with its result (msBeforeNext); anything else is a real error. */
function waitOf(refused: unknown): number {
  if (refused instanceof Error) throw refused;
  const ms = (refused as { msBeforeNext?: number }).msBeforeNext ?? 1000;
  return Math.max(1, Math.ceil(ms / 1000));
}

function accountKey(email: string): string {
  return canonicalEmail(email);
}

function pairKey(account: string, address: string): string {
  return `${account}\u0000${address}`;
}
