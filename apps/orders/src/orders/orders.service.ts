import { Injectable } from '@nestjs/common';
import { OrdersEventTypes, type CallerContext, type OrderCancelledV1, type OrderPlacedV1 } from '@tessera/contracts';
import { OutboxWriter } from '@tessera/messaging';
import { IdempotencyKeys, isUuid, TenantTransactions, type IdempotencyOutcome, timeOrderedUuid } from '@tessera/persistence';
import {
  ConflictProblem,
  decodeCursor,
  encodeCursor,
  NotFoundProblem,
  UnauthorizedProblem,
  UnprocessableProblem,
  ValidationProblem,
  type FieldError,
} from '@tessera/service-kit';
import { z } from 'zod';
import { isSellable, VariantReadModel } from '../variants/variant-read-model';
import type { ListOrdersQueryDto, OrderDto, OrderListDto, PlacedOrderDto } from './dto/order-view.dto';
import type { PlaceOrderDto } from './dto/place-order.dto';
import { CANCELLABLE } from './order-status';
import { OrderStore, type Cause, type OrderItemRow } from './order-store';
import { transition } from './order-transitions';
import { toOrderDto, toSummary } from './order-view';

// createdAt is a timestamptz as OrderStore.page writes it (ISO, UTC) or, in cursors handed out before, in the server's
// ISO DateStyle; anything else, a month 13 or an offset of +99 included, would fail the cast with a 500.
const PG_TIMESTAMPTZ = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?[+-](\d{2})(?::(\d{2}))?(?::(\d{2}))?$/;
function isPgTimestamptz(text: string): boolean {
  const m = PG_TIMESTAMPTZ.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second, offsetH, offsetM, offsetS] = m.slice(1).map((v) => Number(v ?? 0));
  const date = new Date(Date.UTC(year, month - 1, day));
  const realDay = year >= 1 && date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  return realDay && hour < 24 && minute < 60 && second < 60 && offsetH <= 15 && offsetM < 60 && offsetS < 60;
}
const cursorSchema = z.object({
  createdAt: z.string().refine(isPgTimestamptz),
  id: z.string().uuid(),
});

function tenantOf(caller: CallerContext | undefined): string {
  if (!caller?.tenantId) throw new UnauthorizedProblem('this route needs an authenticated tenant caller');
  return caller.tenantId;
}

function actorOf(caller: CallerContext): string {
  return `${caller.principalType}:${caller.principalId ?? 'unknown'}`;
}

function lineError(index: number, detail: string): FieldError {
  return { field: `items.${index}.sku`, pointer: `#/items/${index}/sku`, detail };
}

@Injectable()
export class OrdersService {
  constructor(
    private readonly transactions: TenantTransactions,
    private readonly outbox: OutboxWriter,
    private readonly idempotency: IdempotencyKeys,
  ) {}

  /** `Idempotency-Key` (validated by the controller): the order, its response and its event commit together. */
  async place(caller: CallerContext, dto: PlaceOrderDto, idempotencyKey?: string): Promise<IdempotencyOutcome<PlacedOrderDto>> {
    const tenantId = tenantOf(caller);
    this.refuseDuplicateSkus(dto);
    return this.idempotency.perform(tenantId, { key: idempotencyKey, operation: 'POST /v1/orders', body: dto }, async (tx) => {
      const placed = await this.insertOrder(tx.manager, tenantId, caller, dto);
      await this.outbox.append(tx, { type: OrdersEventTypes.OrderPlaced, subject: placed.body.id, data: placed.event });
      return { status: 202, body: placed.body };
    });
  }

  async get(caller: CallerContext, id: string): Promise<OrderDto> {
    const tenantId = tenantOf(caller);
    if (!isUuid(id)) throw new NotFoundProblem('No such order');
    const orderId = id.toLowerCase();
    // One snapshot for the order, its items and its history (REPEATABLE READ): under READ COMMITTED a saga step
    // committed between the reads showed a pending order whose history already said awaiting_payment.
    return this.transactions.run(
      tenantId,
      async (tx) => {
        const order = await OrderStore.find(tx.manager, orderId);
        if (!order) throw new NotFoundProblem('No such order');
        return toOrderDto(order, await OrderStore.items(tx.manager, orderId), await OrderStore.history(tx.manager, orderId));
      },
      { isolation: 'REPEATABLE READ' },
    );
  }

  async list(caller: CallerContext, query: ListOrdersQueryDto): Promise<OrderListDto> {
    const tenantId = tenantOf(caller);
    const after = query.cursor ? decodeCursor(query.cursor, cursorSchema) : null;
    return this.transactions.run(tenantId, async (tx) => {
      const rows = await OrderStore.page(tx.manager, { tenantId, limit: query.limit + 1, status: query.status, after });
      const page = rows.slice(0, query.limit);
      const last = page[page.length - 1];
      return {
        items: page.map(toSummary),
        nextCursor: rows.length > query.limit && last ? encodeCursor({ createdAt: last.createdAtText, id: last.id }) : null,
      };
    });
  }

  async cancel(caller: CallerContext, id: string, reason: string | undefined): Promise<OrderDto> {
    const tenantId = tenantOf(caller);
    if (!isUuid(id)) throw new NotFoundProblem('No such order');
    // As stored: the id goes into the event's subject and partition key, where an upper-case copy would be another
    // order's key (on Kafka, possibly another partition than the order's other events).
    const orderId = id.toLowerCase();
    const cause: Cause = { type: 'api', actor: actorOf(caller) };
    return this.transactions.run(tenantId, async (tx) => {
      const order = await OrderStore.find(tx.manager, orderId, true);
      if (!order) throw new NotFoundProblem('No such order');
      const previousStatus = order.status;
      if (!CANCELLABLE.includes(previousStatus)) {
        throw new ConflictProblem(`An order in status ${previousStatus} cannot be cancelled`, {
          extensions: { reason: 'invalid_transition', orderStatus: previousStatus },
        });
      }
      const cancelReason = reason?.trim() || 'cancelled by staff';
      await transition(tx.manager, order, 'cancelled', cause, { cancelReason });
      const event: OrderCancelledV1 = {
        orderId,
        reason: cancelReason,
        previousStatus: previousStatus as 'pending' | 'awaiting_payment',
        reservationId: order.reservationId,
        paymentId: order.paymentId,
      };
      await this.outbox.append(tx, { type: OrdersEventTypes.OrderCancelled, subject: orderId, data: event });
      const fresh = await OrderStore.find(tx.manager, orderId);
      return toOrderDto(fresh ?? order, await OrderStore.items(tx.manager, orderId), await OrderStore.history(tx.manager, orderId));
    });
  }

  /** One line per SKU: a repeated SKU is refused rather than merged, so the client sees what it sent. */
  private refuseDuplicateSkus(dto: PlaceOrderDto): void {
    const firstLine = new Map<string, number>();
    const errors: FieldError[] = [];
    dto.items.forEach((item, index) => {
      const first = firstLine.get(item.sku);
      if (first === undefined) firstLine.set(item.sku, index);
      else errors.push(lineError(index, `SKU ${item.sku} already appears on line ${first}; put the whole quantity on one line`));
    });
    if (errors.length > 0) throw new ValidationProblem(errors, 'The order repeats a SKU.');
  }

  private async insertOrder(
    manager: Parameters<typeof OrderStore.insert>[0],
    tenantId: string,
    caller: CallerContext,
    dto: PlaceOrderDto,
  ): Promise<{ body: PlacedOrderDto; event: OrderPlacedV1 }> {
    const variants = await VariantReadModel.lookup(manager, tenantId, dto.items.map((i) => i.sku));
    const problems: { index: number; sku: string; reason: string; detail: string }[] = [];
    dto.items.forEach((item, index) => {
      const v = variants.get(item.sku);
      if (!v) problems.push({ index, sku: item.sku, reason: 'unknown_sku', detail: `unknown SKU ${item.sku}` });
      else if (!isSellable(v)) {
        const status = v.productStatus && v.productStatus !== 'active' ? v.productStatus : v.status;
        problems.push({ index, sku: item.sku, reason: 'not_sellable', detail: `SKU ${item.sku} is ${status} and cannot be sold` });
      }
    });
    if (problems.length > 0) {
      throw new UnprocessableProblem(
        `Line ${problems.map((p) => `${p.index} (${p.sku}): ${p.reason === 'unknown_sku' ? 'unknown SKU' : 'not for sale'}`).join('; ')}`,
        {
          errors: problems.map((p) => lineError(p.index, p.detail)),
          extensions: { reason: 'invalid_lines', lines: problems.map(({ index, sku, reason }) => ({ index, sku, reason })) },
        },
      );
    }

    // Every SKU was found above; the filter only narrows the type.
    const lines = dto.items.flatMap((item, index) => {
      const v = variants.get(item.sku);
      return v ? [{ index, item, v }] : [];
    });
    const currency = lines[0].v.currency;
    if (lines.some((l) => l.v.currency !== currency)) {
      // Every line is named with its currency: which of them is "wrong" is the client's choice, not ours.
      const currencies = [...new Set(lines.map((l) => l.v.currency))].join(', ');
      throw new UnprocessableProblem(`All lines must share one currency; these are priced in ${currencies}`, {
        errors: lines.map((l) => lineError(l.index, `SKU ${l.item.sku} is priced in ${l.v.currency}`)),
        extensions: {
          reason: 'mixed_currencies',
          lines: lines.map((l) => ({ index: l.index, sku: l.item.sku, reason: 'mixed_currencies', currency: l.v.currency })),
        },
      });
    }

    const items: OrderItemRow[] = lines.map(({ index, item, v }) => ({
      line: index,
      variantId: v.variantId,
      sku: item.sku,
      quantity: item.quantity,
      unitPriceAmount: v.priceAmount,
      lineTotalAmount: v.priceAmount * item.quantity,
      condition: v.condition,
    }));
    const subtotal = items.reduce((sum, i) => sum + i.lineTotalAmount, 0);
    if (!Number.isSafeInteger(subtotal) || items.some((i) => !Number.isSafeInteger(i.lineTotalAmount))) {
      throw new UnprocessableProblem('The order total is too large', { extensions: { reason: 'total_too_large' } });
    }

    const id = timeOrderedUuid();
    await OrderStore.insert(
      manager,
      {
        id,
        status: 'pending',
        currency,
        subtotalAmount: subtotal,
        totalAmount: subtotal,
        paymentMethod: dto.paymentMethod,
        customer: { name: dto.customer.name, email: dto.customer.email },
        shippingAddress: dto.shippingAddress ? { ...dto.shippingAddress } : null,
        reservationId: null,
        reservationExpiresAt: null,
        paymentId: null,
        rejectionReasons: null,
        cancelReason: null,
        placedBy: actorOf(caller),
      },
      items,
      { from: null, to: 'pending', cause: { type: 'api', actor: actorOf(caller) } },
    );
    return {
      body: { id, status: 'pending' },
      event: {
        orderId: id,
        items: items.map((i) => ({ sku: i.sku, quantity: i.quantity, unitPriceAmount: i.unitPriceAmount, condition: i.condition })),
        currency,
        totalAmount: subtotal,
        paymentMethod: dto.paymentMethod,
        customer: { name: dto.customer.name, email: dto.customer.email },
      },
    };
  }
}
