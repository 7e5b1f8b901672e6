import type { TenantTransactions, TenantTx } from '@tessera/persistence';
import { isUuid } from '@tessera/persistence';
import { invalid } from './errors';
import { DEFAULT_COD_TTL_SECONDS, DEFAULT_TTL_SECONDS, effectiveTtls, MAX_COD_TTL_SECONDS, MAX_TTL_SECONDS, TTL_SETTINGS_SQL, type TtlSettings } from './reservation-ttl';
import { MAX_PAGE, pageLimit, type KeysetPage } from './keyset-page';
import { LEVEL_COLUMNS, toLevel, type LedgerRow, type LevelRow } from './stock-rows';
import type { AdjustReason, StockCondition, StockLevel, StockMovementType } from './types';

export interface LedgerEntry {
  id: string;
  stockLevelId: string;
  sku: string;
  locationId: string;
  condition: StockCondition;
  type: StockMovementType;
  reason: AdjustReason | null;
  delta: number;
  deltaReserved: number;
  before: number;
  after: number;
  reservedBefore: number;
  reservedAfter: number;
  actor: string | null;
  correlationId: string | null;
  reference: string | null;
  at: Date;
}

export interface LevelFilter {
  sku?: string;
  locationId?: string;
}

/** Where a page of levels ends: the last row's `(sku, locationId, condition)`. */
export interface LevelPosition {
  sku: string;
  locationId: string;
  condition: StockCondition;
}

export type LevelPage = KeysetPage<StockLevel, LevelPosition>;

async function readLevelPage(tx: TenantTx, filter: LevelFilter, after: LevelPosition | undefined, limit: number): Promise<LevelPage> {
  const rows: LevelRow[] = await tx.manager.query(
    `SELECT ${LEVEL_COLUMNS} FROM stock_levels
     WHERE ($1::text IS NULL OR sku = $1) AND ($2::uuid IS NULL OR location_id = $2)
       AND ($3::text IS NULL OR (sku, location_id, condition) > ($3::text, $4::uuid, $5::text))
     ORDER BY sku, location_id, condition LIMIT $6`,
    [filter.sku ?? null, filter.locationId ?? null, after?.sku ?? null, after?.locationId ?? null, after?.condition ?? null, limit + 1],
  );
  const items = rows.slice(0, limit).map(toLevel);
  const last = items[items.length - 1];
  return { items, next: rows.length > limit && last ? { sku: last.sku, locationId: last.locationId, condition: last.condition } : null };
}

/** Read side: levels and the ledger (newest first, keyset on the ledger's seq, positioned by a row's id). */
export class StockQueries {
  constructor(private readonly tenants: TenantTransactions) {}

  /**
   * One page of stock levels in the order `(sku, location_id, condition)` (unique per tenant, the order of the
   * `stock_levels_key` index), after `after`: keyset paging, so rows never repeat or go missing between pages.
   */
  levelPage(tenantId: string, query: LevelFilter & { after?: LevelPosition; limit?: number } = {}): Promise<LevelPage> {
    const limit = pageLimit(query.limit);
    const after = query.after;
    if (after !== undefined && (typeof after.sku !== 'string' || !isUuid(after.locationId) || typeof after.condition !== 'string')) {
      throw invalid('invalid_cursor', 'cursor is not valid');
    }
    if (query.locationId !== undefined && !isUuid(query.locationId)) return Promise.resolve({ items: [], next: null });
    return this.tenants.run(tenantId, (tx) => readLevelPage(tx, query, after, limit));
  }

  /** Every level matching the filter (for in-process callers), read page by page in one transaction. */
  levels(tenantId: string, filter: LevelFilter = {}): Promise<StockLevel[]> {
    if (filter.locationId !== undefined && !isUuid(filter.locationId)) return Promise.resolve([]);
    return this.tenants.run(tenantId, async (tx) => {
      const all: StockLevel[] = [];
      let after: LevelPosition | undefined;
      for (;;) {
        const page = await readLevelPage(tx, filter, after, MAX_PAGE);
        all.push(...page.items);
        if (page.next === null) return all;
        after = page.next;
      }
    });
  }

  /**
   * One page of the ledger, newest first, after the row `after` (the id of the previous page's last row). Its `seq`
   * is looked up rather than carried: the sequence is shared by every tenant, so a cursor holding it would tell a
   * tenant how much stock the others move.
   */
  ledger(tenantId: string, filter: { sku?: string; after?: string; limit?: number } = {}): Promise<{ items: LedgerEntry[]; next: string | null }> {
    const limit = filter.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw invalid('invalid_limit', 'limit must be an integer from 1 to 500');
    const after = filter.after?.toLowerCase();
    if (after !== undefined && !isUuid(after)) throw invalid('invalid_cursor', 'cursor is not valid');
    return this.tenants.run(tenantId, async (tx) => {
      let afterSeq: string | null = null;
      if (after !== undefined) {
        // RLS hides another tenant's rows: their id is no position here.
        const found: { seq: string }[] = await tx.manager.query(`SELECT seq FROM ledger WHERE id = $1`, [after]);
        if (found.length === 0) throw invalid('invalid_cursor', 'cursor is not valid');
        afterSeq = found[0].seq;
      }
      const rows: LedgerRow[] = await tx.manager.query(
        `SELECT * FROM ledger WHERE ($1::text IS NULL OR sku = $1) AND ($2::bigint IS NULL OR seq < $2)
         ORDER BY seq DESC LIMIT $3`,
        [filter.sku ?? null, afterSeq, limit + 1],
      );
      const page = rows.slice(0, limit);
      return {
        items: page.map((r) => ({
          id: r.id,
          stockLevelId: r.stock_level_id,
          sku: r.sku,
          locationId: r.location_id,
          condition: r.condition,
          type: r.movement,
          reason: r.reason,
          delta: r.delta_on_hand,
          deltaReserved: r.delta_reserved,
          before: r.on_hand_before,
          after: r.on_hand_after,
          reservedBefore: r.reserved_before,
          reservedAfter: r.reserved_after,
          actor: r.actor,
          correlationId: r.correlation_id,
          reference: r.reference,
          at: r.at,
        })),
        next: rows.length > limit ? page[page.length - 1].id : null,
      };
    });
  }

  /** The tenant's reservation times to live, or their defaults while it has set none. */
  async settings(tenantId: string): Promise<InventorySettings> {
    return this.tenants.run(tenantId, (tx) => readSettings(tx));
  }

  /**
   * Sets the given times to live and leaves the others as they are: a checkout reservation's (default 15 minutes,
   * at most 7 days) and a cash-on-delivery one's (default 14 days, at most 90).
   */
  async updateSettings(tenantId: string, change: Partial<InventorySettings>): Promise<InventorySettings> {
    const { reservationTtlSeconds: checkout, cashOnDeliveryTtlSeconds: cod } = change;
    if (checkout === undefined && cod === undefined) throw invalid('empty_settings', 'name at least one setting to change');
    if (checkout !== undefined && !inRange(checkout, MAX_TTL_SECONDS)) {
      throw invalid('invalid_ttl', `reservationTtlSeconds must be an integer from 1 to ${MAX_TTL_SECONDS}`);
    }
    if (cod !== undefined && !inRange(cod, MAX_COD_TTL_SECONDS)) {
      throw invalid('invalid_ttl', `cashOnDeliveryTtlSeconds must be an integer from 1 to ${MAX_COD_TTL_SECONDS}`);
    }
    return this.tenants.run(tenantId, async (tx) => {
      const [row]: { checkout: number; cod: number }[] = await tx.manager.query(
        `INSERT INTO tenant_settings (tenant_id, reservation_ttl_seconds, cod_reservation_ttl_seconds)
         VALUES ($1, coalesce($2::int, $4::int), coalesce($3::int, $5::int))
         ON CONFLICT (tenant_id) DO UPDATE
           SET reservation_ttl_seconds = coalesce($2::int, tenant_settings.reservation_ttl_seconds),
               cod_reservation_ttl_seconds = coalesce($3::int, tenant_settings.cod_reservation_ttl_seconds),
               updated_at = now()
         RETURNING reservation_ttl_seconds AS checkout, cod_reservation_ttl_seconds AS cod`,
        [tenantId, checkout ?? null, cod ?? null, DEFAULT_TTL_SECONDS, DEFAULT_COD_TTL_SECONDS],
      );
      return toSettings(row);
    });
  }
}

export interface InventorySettings {
  reservationTtlSeconds: number;
  cashOnDeliveryTtlSeconds: number;
}

const inRange = (n: number, max: number) => Number.isInteger(n) && n >= 1 && n <= max;

async function readSettings(tx: TenantTx): Promise<InventorySettings> {
  const [{ ttl }]: { ttl: TtlSettings }[] = await tx.manager.query(`SELECT ${TTL_SETTINGS_SQL} AS ttl`);
  return toSettings(ttl);
}

function toSettings(settings: TtlSettings): InventorySettings {
  const { checkout, cod } = effectiveTtls(settings);
  return { reservationTtlSeconds: checkout, cashOnDeliveryTtlSeconds: cod };
}
