import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { TenantTransactions } from '@tessera/persistence';
import { BadRequestProblem, ConflictProblem, UnprocessableProblem } from '@tessera/service-kit';
import type { EntityManager } from 'typeorm';
import { preparedRows } from '@tessera/persistence';

/** DESIGN "API conventions": keys are kept at least 24 hours. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;
/** A key still `running` after this long belongs to a request that died mid-way: another request may take it over. */
export const ABANDONED_AFTER_SECONDS = 60;

export type IdempotencyStart = { kind: 'proceed' } | { kind: 'replay'; status: number; body: unknown };

/** Canonical JSON (sorted keys), so that the same body with its fields in another order is the same request. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export function requestHash(operation: string, body: unknown): string {
  return createHash('sha256').update(operation).update('\n').update(canonical(body)).digest('hex');
}

export function assertValidKey(key: string): void {
  if (key.length === 0 || key.length > 255 || !/^[\x21-\x7e]+$/.test(key)) {
    throw new BadRequestProblem('Idempotency-Key must be 1 to 255 visible ASCII characters', {
      errors: [{ field: 'Idempotency-Key', pointer: '#/headers/idempotency-key', detail: 'is not a valid idempotency key' }],
    });
  }
}

/**
 * The `Idempotency-Key` store, per tenant. `begin` claims the key in its own committed transaction (so a
 * concurrent request with the same key sees it `running` and gets 409 instead of waiting on a lock); the
 * work's transaction then calls `complete`, so the response is stored atomically with what it created.
 * A failed attempt `release`s the key: only successful responses are replayed.
 */
@Injectable()
export class IdempotencyKeys {
  constructor(private readonly transactions: TenantTransactions) {}

  async begin(tenantId: string, key: string, hash: string): Promise<IdempotencyStart> {
    return this.transactions.run(tenantId, async (tx) => {
      const claimed = await preparedRows(
        tx.manager,
        `INSERT INTO idempotency_keys (key, request_hash, state, expires_at)
         VALUES ($1, $2, 'running', now() + make_interval(secs => $3))
         ON CONFLICT (tenant_id, key) DO UPDATE
           SET request_hash = EXCLUDED.request_hash, state = 'running', response_status = NULL, response_body = NULL,
               locked_at = now(), created_at = now(), expires_at = EXCLUDED.expires_at
           WHERE idempotency_keys.expires_at < now()
              OR (idempotency_keys.state = 'running' AND idempotency_keys.request_hash = EXCLUDED.request_hash
                  AND idempotency_keys.locked_at < now() - make_interval(secs => $4))
         RETURNING key`,
        [key, hash, IDEMPOTENCY_TTL_SECONDS, ABANDONED_AFTER_SECONDS],
      );
      if (claimed.length > 0) return { kind: 'proceed' };
      const [row] = await preparedRows<{ requestHash: string; state: string; status: number | null; body: unknown }>(
        tx.manager,
        `SELECT request_hash AS "requestHash", state, response_status AS status, response_body AS body
         FROM idempotency_keys WHERE key = $1`,
        [key],
      );
      if (!row) throw new ConflictProblem('The Idempotency-Key is being released; retry', { extensions: { reason: 'idempotency_key_busy' } });
      if (row.requestHash !== hash) {
        throw new UnprocessableProblem('This Idempotency-Key was used with a different request', {
          extensions: { reason: 'idempotency_key_reused' },
        });
      }
      if (row.state === 'running') {
        throw new ConflictProblem('A request with this Idempotency-Key is still being processed', {
          extensions: { reason: 'idempotency_key_in_progress' },
        });
      }
      return { kind: 'replay', status: row.status ?? 200, body: row.body };
    });
  }

  /** Stores the response, inside the transaction of the work it describes. */
  async complete(manager: EntityManager, key: string, status: number, body: unknown): Promise<void> {
    await preparedRows(
      manager,
      `UPDATE idempotency_keys SET state = 'done', response_status = $2, response_body = $3::jsonb WHERE key = $1`,
      [key, status, JSON.stringify(body)],
    );
  }

  async release(tenantId: string, key: string): Promise<void> {
    await this.transactions.run(tenantId, async (tx) => {
      await preparedRows(tx.manager, `DELETE FROM idempotency_keys WHERE key = $1 AND state = 'running'`, [key]);
    });
  }
}
