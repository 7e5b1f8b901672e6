import { createHash, createHmac, randomUUID } from 'node:crypto';
import { Inject, Injectable, Optional } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { preparedRows } from './prepared-query';
import { TenantTransactions, type IsolationLevel, type TenantTx } from './tenant-transactions';

// The `Idempotency-Key` store of DESIGN "API conventions", shared by every service. It lives here, in SQL terms,
// and answers with outcomes; @tessera/service-kit turns them into HTTP (409/422 problems, the replay header). The
// kit must not depend on persistence: the gateway uses the kit and has no database.

/** DESIGN "API conventions": keys are kept at least 24 hours. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;
/** A key still `running` after this long belongs to a request that died mid-way: a retry may take it over. */
export const IDEMPOTENCY_ABANDONED_AFTER_SECONDS = 60;

export interface IdempotentRequest {
  /** The client's Idempotency-Key, already validated at the HTTP edge; without one the work simply runs. */
  key: string | undefined;
  /** The route, e.g. `POST /v1/products`: the same key and body sent to another route is another request. */
  operation: string;
  body: unknown;
}

export interface IdempotentResponse<T> {
  status: number;
  body: T;
}

export type IdempotencyOutcome<T> =
  | { kind: 'performed'; status: number; body: T }
  /** The stored response of the first request with this key (its body as `stored` kept it). */
  | { kind: 'replayed'; status: number; body: unknown }
  /** The first request with this key is still running. */
  | { kind: 'in_progress' }
  /** The key was used with another request. */
  | { kind: 'key_reused' };

export interface IdempotencyKeysOptions {
  /**
   * Fingerprints become HMAC-SHA256 under this secret instead of SHA-256. For services whose request bodies hold
   * low-entropy secrets (passwords): a plain hash of such a body in the table could be guessed offline.
   */
  fingerprintSecret?: Buffer;
}

export const IDEMPOTENCY_KEYS_OPTIONS = Symbol('IDEMPOTENCY_KEYS_OPTIONS');

export interface PerformOptions<T> {
  isolation?: IsolationLevel;
  /** What to keep for replays instead of the body itself, e.g. the body without a secret that is shown only once. */
  stored?: (body: T) => unknown;
}

/** One request's hold on a running key; `token` tells it apart from a later request that took the key over. */
export interface IdempotencyClaim {
  key: string;
  token: string;
}

export type ClaimOutcome = { kind: 'claimed'; claim: IdempotencyClaim } | Exclude<IdempotencyOutcome<never>, { kind: 'performed' }>;

/** The claim was taken over by a retry while this request still worked: its transaction must not commit. */
class ClaimLostError extends Error {
  constructor(key: string) {
    super(`the Idempotency-Key ${JSON.stringify(key)} was taken over by another request`);
    this.name = 'ClaimLostError';
  }
}

/** Canonical JSON (sorted keys, no undefined members), so that the same body with its fields in another order is the same request. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value instanceof Date) return JSON.stringify(value);
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

const CLAIM = `
  INSERT INTO idempotency_keys (key, request_hash, state, claim, expires_at)
  VALUES ($1, $2, 'running', $3, now() + make_interval(secs => $4))
  ON CONFLICT (tenant_id, key) DO UPDATE
    SET request_hash = EXCLUDED.request_hash, state = 'running', claim = EXCLUDED.claim, response_status = NULL,
        response_body = NULL, locked_at = now(), created_at = now(), expires_at = EXCLUDED.expires_at
    WHERE idempotency_keys.expires_at < now()
       OR (idempotency_keys.state = 'running' AND idempotency_keys.request_hash = EXCLUDED.request_hash
           AND idempotency_keys.locked_at < now() - make_interval(secs => $5))
  RETURNING key`;

const READ = `
  SELECT request_hash AS "requestHash", state, response_status AS status, response_body AS body
  FROM idempotency_keys WHERE key = $1`;

const COMPLETE = `
  UPDATE idempotency_keys SET state = 'done', response_status = $3, response_body = $4::jsonb
  WHERE key = $1 AND claim = $2 AND state = 'running'
  RETURNING key`;

const RELEASE = `DELETE FROM idempotency_keys WHERE key = $1 AND claim = $2 AND state = 'running'`;

/**
 * The `Idempotency-Key` store of a service schema (table from createIdempotencyKeysTable), per tenant.
 *
 * `perform` claims the key in its own committed transaction, so a concurrent request with the same key sees it
 * `running` and gets `in_progress` at once instead of waiting on a lock. The work then runs in one tenant
 * transaction that also stores the response, so a crash can never leave a created thing without its stored
 * response. A failed attempt releases the key: only successful responses are replayed.
 */
@Injectable()
export class IdempotencyKeys {
  private readonly fingerprintSecret?: Buffer;

  constructor(
    private readonly transactions: TenantTransactions,
    @Optional() @Inject(IDEMPOTENCY_KEYS_OPTIONS) options: IdempotencyKeysOptions = {},
  ) {
    this.fingerprintSecret = options.fingerprintSecret;
  }

  /** Runs `work` once per key: the first request performs it, a repeat gets the stored response. */
  async perform<T>(
    tenantId: string,
    request: IdempotentRequest,
    work: (tx: TenantTx) => Promise<IdempotentResponse<T>>,
    options: PerformOptions<T> = {},
  ): Promise<IdempotencyOutcome<T>> {
    if (request.key === undefined) {
      const response = await this.transactions.run(tenantId, work, { isolation: options.isolation });
      return { kind: 'performed', status: response.status, body: response.body };
    }
    const started = await this.claim(tenantId, request.key, this.fingerprint(request.operation, request.body));
    if (started.kind !== 'claimed') return started;
    const { claim } = started;
    try {
      const response = await this.transactions.run(
        tenantId,
        async (tx) => {
          const response = await work(tx);
          const kept = options.stored ? options.stored(response.body) : response.body;
          await this.complete(tx.manager, claim, { status: response.status, body: kept });
          return response;
        },
        { isolation: options.isolation },
      );
      return { kind: 'performed', status: response.status, body: response.body };
    } catch (error) {
      // Rolled back: the retry that took the key over is running it now.
      if (error instanceof ClaimLostError) return { kind: 'in_progress' };
      // Nothing was stored: free the key so that a corrected retry may use it. Should the release fail too, the
      // claim is taken over once abandoned; the work's error is the one worth reporting.
      await this.release(tenantId, claim).catch(() => undefined);
      throw error;
    }
  }

  /** SHA-256 (or HMAC, see IdempotencyKeysOptions) of the operation and the canonical body, hex. */
  fingerprint(operation: string, body: unknown): string {
    const hash = this.fingerprintSecret ? createHmac('sha256', this.fingerprintSecret) : createHash('sha256');
    return hash.update(operation).update('\n').update(canonical(body)).digest('hex');
  }

  /** Claims `key` for a request with this fingerprint, in its own committed transaction. */
  async claim(tenantId: string, key: string, fingerprint: string): Promise<ClaimOutcome> {
    const token = randomUUID();
    return this.transactions.run(tenantId, async (tx) => {
      // A row seen by the INSERT can be released before the SELECT reads it: then the key is free, claim again.
      for (let attempt = 0; attempt < 3; attempt++) {
        const claimed = await preparedRows(tx.manager, CLAIM, [key, fingerprint, token, IDEMPOTENCY_TTL_SECONDS, IDEMPOTENCY_ABANDONED_AFTER_SECONDS]);
        if (claimed.length > 0) return { kind: 'claimed', claim: { key, token } };
        const [row] = await preparedRows<{ requestHash: string; state: string; status: number | null; body: unknown }>(tx.manager, READ, [key]);
        if (!row) continue;
        if (row.requestHash !== fingerprint) return { kind: 'key_reused' };
        if (row.state === 'running') return { kind: 'in_progress' };
        return { kind: 'replayed', status: row.status ?? 200, body: row.body };
      }
      return { kind: 'in_progress' };
    });
  }

  /** Stores the response, inside the transaction of the work it describes; throws if the claim was taken over. */
  async complete(manager: EntityManager, claim: IdempotencyClaim, response: IdempotentResponse<unknown>): Promise<void> {
    const body = response.body === undefined ? null : JSON.stringify(response.body);
    const rows = await preparedRows(manager, COMPLETE, [claim.key, claim.token, response.status, body]);
    if (rows.length === 0) throw new ClaimLostError(claim.key);
  }

  /** Frees a claim whose work failed; a claim taken over by another request is left alone. */
  async release(tenantId: string, claim: IdempotencyClaim): Promise<void> {
    await this.transactions.run(tenantId, (tx) => preparedRows(tx.manager, RELEASE, [claim.key, claim.token]));
  }
}
