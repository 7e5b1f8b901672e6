import type { OrderRejectionReasonV1, OrderStatus, PaymentMethod } from '@tessera/contracts';
import type { EntityManager } from 'typeorm';
import { preparedRows, preparedSend } from '@tessera/persistence';
import type { ShippingAddressDto } from './dto/place-order.dto';

/** What caused a transition or a history note: an API call by an actor, or a consumed event. */
export type Cause = { type: 'api'; actor: string } | { type: 'event'; eventId: string; eventType: string };

export interface OrderRow {
  id: string;
  tenantId: string;
  status: OrderStatus;
  currency: string;
  subtotalAmount: number;
  totalAmount: number;
  paymentMethod: PaymentMethod;
  customer: { name: string; email: string };
  /** As placed: ShippingAddressDto's fields (the validation pipe refuses any other). */
  shippingAddress: ShippingAddressDto | null;
  reservationId: string | null;
  reservationExpiresAt: Date | null;
  paymentId: string | null;
  rejectionReasons: OrderRejectionReasonV1[] | null;
  cancelReason: string | null;
  placedBy: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface OrderItemRow {
  line: number;
  variantId: string;
  sku: string;
  quantity: number;
  unitPriceAmount: number;
  lineTotalAmount: number;
  /** The stock condition the line is reserved from (the variant's, when the order was placed). */
  condition: 'new' | 'used';
}

/** A history entry to append: a transition (`to` set) or a note about an event that moved nothing. */
export interface HistoryEntry {
  from: OrderStatus | null;
  to: OrderStatus | null;
  cause: Cause;
  note?: string;
}

export interface HistoryRow {
  from: OrderStatus | null;
  to: OrderStatus | null;
  at: Date;
  causeType: 'api' | 'event';
  causeEventId: string | null;
  causeEventType: string | null;
  actor: string | null;
  note: string | null;
}

const ORDER_COLUMNS = `id, tenant_id AS "tenantId", status, currency, subtotal_amount AS "subtotalAmount",
  total_amount AS "totalAmount", payment_method AS "paymentMethod", customer, shipping_address AS "shippingAddress",
  reservation_id AS "reservationId", reservation_expires_at AS "reservationExpiresAt", payment_id AS "paymentId",
  rejection_reasons AS "rejectionReasons", cancel_reason AS "cancelReason", placed_by AS "placedBy",
  created_at AS "createdAt", updated_at AS "updatedAt"`;

const FIND = `SELECT ${ORDER_COLUMNS} FROM orders WHERE id = $1`;
const FIND_FOR_UPDATE = `${FIND} FOR UPDATE`;
// Locked in id order, whoever asks: two transactions locking overlapping sets this way never wait on each other in a cycle.
const LOCK_MANY = `SELECT ${ORDER_COLUMNS} FROM orders WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`;

const INSERT_HISTORY = `INSERT INTO order_history (order_id, from_status, to_status, cause_type, cause_event_id, cause_event_type, actor, note)`;

// $1-$9 the order, $10 its lines as JSON, $11-$17 its first history entry (historyValues). The lines' and the
// history's foreign keys are checked at the end of the statement, when the order row exists.
const INSERT_PLACED = `
  WITH placed AS (
    INSERT INTO orders (id, status, currency, subtotal_amount, total_amount, payment_method, customer, shipping_address, placed_by)
    VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9)
  ), lines AS (
    INSERT INTO order_items (order_id, line, variant_id, sku, quantity, unit_price_amount, line_total_amount, condition)
    SELECT $1, x.line, x.variant_id, x.sku, x.quantity, x.unit_price_amount, x.line_total_amount, x.condition
    FROM jsonb_to_recordset($10::jsonb)
      AS x(line int, variant_id uuid, sku text, quantity int, unit_price_amount bigint, line_total_amount bigint, condition text)
  )
  ${INSERT_HISTORY} VALUES ($1, $11, $12, $13, $14, $15, $16, $17)`;

/** A history entry's columns after order_id, in INSERT_HISTORY's order. */
function historyValues(entry: HistoryEntry): unknown[] {
  const c = entry.cause;
  return [
    entry.from,
    entry.to,
    c.type,
    c.type === 'event' ? c.eventId : null,
    c.type === 'event' ? c.eventType : null,
    c.type === 'api' ? c.actor : null,
    entry.note ?? null,
  ];
}

// node-postgres returns bigint as text; amounts stay far below 2^53 (checked when the order is placed).
function toOrder(raw: Record<string, unknown>): OrderRow {
  return { ...(raw as unknown as OrderRow), subtotalAmount: Number(raw['subtotalAmount']), totalAmount: Number(raw['totalAmount']) };
}

/** SQL access to the orders tables; every call runs inside the caller's tenant transaction (RLS applies). */
export const OrderStore = {
  async find(manager: EntityManager, orderId: string, lock = false): Promise<OrderRow | null> {
    const rows = await preparedRows(manager, lock ? FIND_FOR_UPDATE : FIND, [orderId]);
    return rows[0] ? toOrder(rows[0]) : null;
  },

  /** The orders among `orderIds` (those of the transaction's tenant), locked, in one statement. */
  async lockMany(manager: EntityManager, orderIds: readonly string[]): Promise<OrderRow[]> {
    const rows = await preparedRows(manager, LOCK_MANY, [orderIds]);
    return rows.map(toOrder);
  },

  /** A page of orders, newest first, after the (createdAtText, id) position when given. */
  async page(
    manager: EntityManager,
    opts: { tenantId: string; limit: number; status?: OrderStatus; after?: { createdAt: string; id: string } | null },
  ): Promise<(OrderRow & { createdAtText: string })[]> {
    const params: unknown[] = [opts.tenantId, opts.limit];
    const where = ['tenant_id = $1'];
    if (opts.status) {
      params.push(opts.status);
      where.push(`status = $${params.length}`);
    }
    if (opts.after) {
      params.push(opts.after.createdAt, opts.after.id);
      where.push(`(created_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
    }
    // created_at also comes back as text for cursors: microseconds survive, unlike in a JS Date. Formatted here in
    // UTC rather than cast (::text follows the session's DateStyle and TimeZone); read back with ::timestamptz.
    const rows = await preparedRows(
      manager,
      `SELECT ${ORDER_COLUMNS}, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' AS "createdAtText" FROM orders WHERE ${where.join(' AND ')}
       ORDER BY created_at DESC, id DESC LIMIT $2`,
      params,
    );
    return rows.map((r) => ({ ...toOrder(r), createdAtText: String(r['createdAtText']) }));
  },

  /** The new order, its lines and its first history entry, in one statement. */
  async insert(
    manager: EntityManager,
    order: Omit<OrderRow, 'createdAt' | 'updatedAt' | 'tenantId'>,
    items: OrderItemRow[],
    entry: HistoryEntry,
  ): Promise<void> {
    await preparedRows(manager, INSERT_PLACED, [
      order.id,
      order.status,
      order.currency,
      order.subtotalAmount,
      order.totalAmount,
      order.paymentMethod,
      JSON.stringify(order.customer),
      order.shippingAddress ? JSON.stringify(order.shippingAddress) : null,
      order.placedBy,
      JSON.stringify(
        items.map((i) => ({
          line: i.line,
          variant_id: i.variantId,
          sku: i.sku,
          quantity: i.quantity,
          unit_price_amount: i.unitPriceAmount,
          line_total_amount: i.lineTotalAmount,
          condition: i.condition,
        })),
      ),
      ...historyValues(entry),
    ]);
  },

  async items(manager: EntityManager, orderId: string): Promise<OrderItemRow[]> {
    const rows = await preparedRows(
      manager,
      `SELECT line, variant_id AS "variantId", sku, quantity, unit_price_amount AS "unitPriceAmount",
              line_total_amount AS "lineTotalAmount", condition
       FROM order_items WHERE order_id = $1 ORDER BY line`,
      [orderId],
    );
    return rows.map((r) => ({
      ...(r as unknown as OrderItemRow),
      unitPriceAmount: Number(r['unitPriceAmount']),
      lineTotalAmount: Number(r['lineTotalAmount']),
    }));
  },

  async history(manager: EntityManager, orderId: string): Promise<HistoryRow[]> {
    return preparedRows<HistoryRow & Record<string, unknown>>(
      manager,
      `SELECT from_status AS "from", to_status AS "to", at, cause_type AS "causeType", cause_event_id AS "causeEventId",
              cause_event_type AS "causeEventType", actor, note
       FROM order_history WHERE order_id = $1 ORDER BY seq`,
      [orderId],
    );
  },

  /** Not waited for on a pipelined connection (see preparedSend): its error fails the transaction. */
  async appendHistory(manager: EntityManager, orderId: string, entry: HistoryEntry): Promise<void> {
    await preparedSend(manager, `${INSERT_HISTORY} VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [orderId, ...historyValues(entry)]);
  },

  /**
   * Sets the given columns and appends `entry` to the history, in one statement; the caller holds the row lock
   * and has checked the move. Not waited for on a pipelined connection, like appendHistory.
   */
  async update(
    manager: EntityManager,
    orderId: string,
    patch: Partial<Pick<OrderRow, 'status' | 'reservationId' | 'reservationExpiresAt' | 'paymentId' | 'rejectionReasons' | 'cancelReason'>>,
    entry: HistoryEntry,
  ): Promise<void> {
    const columns: Record<string, string> = {
      status: 'status',
      reservationId: 'reservation_id',
      reservationExpiresAt: 'reservation_expires_at',
      paymentId: 'payment_id',
      rejectionReasons: 'rejection_reasons',
      cancelReason: 'cancel_reason',
    };
    const sets: string[] = ['updated_at = now()'];
    const params: unknown[] = [orderId];
    for (const [key, value] of Object.entries(patch)) {
      if (value === undefined) continue;
      params.push(key === 'rejectionReasons' ? JSON.stringify(value) : value);
      sets.push(`${columns[key]} = $${params.length}${key === 'rejectionReasons' ? '::jsonb' : ''}`);
    }
    const n = params.length;
    params.push(...historyValues(entry));
    // A data-modifying WITH runs whether or not the outer statement reads it; $1 is the order id in both.
    await preparedSend(
      manager,
      `WITH updated AS (UPDATE orders SET ${sets.join(', ')} WHERE id = $1)
       ${INSERT_HISTORY} VALUES ($1, ${[1, 2, 3, 4, 5, 6, 7].map((i) => `$${n + i}`).join(', ')})`,
      params,
    );
  },
};
