import type { OrderDto, OrderSummaryDto, HistoryEntryDto } from './dto/order-view.dto';
import type { HistoryRow, OrderItemRow, OrderRow } from './order-store';

function iso(d: Date | string): string {
  return (d instanceof Date ? d : new Date(d)).toISOString();
}

export function toSummary(o: OrderRow): OrderSummaryDto {
  return {
    id: o.id,
    status: o.status,
    totals: { currency: o.currency, subtotalAmount: o.subtotalAmount, totalAmount: o.totalAmount },
    paymentMethod: o.paymentMethod,
    customer: o.customer,
    paymentId: o.paymentId ?? null,
    createdAt: iso(o.createdAt),
    updatedAt: iso(o.updatedAt),
  };
}

function toHistory(h: HistoryRow): HistoryEntryDto {
  return {
    from: h.from,
    to: h.to,
    at: iso(h.at),
    // Every member always there, null when it does not apply, as in the rest of the order's view.
    cause:
      h.causeType === 'api'
        ? { type: 'api', actor: h.actor ?? null, eventId: null, eventType: null }
        : { type: 'event', actor: null, eventId: h.causeEventId ?? null, eventType: h.causeEventType ?? null },
    note: h.note ? h.note : null,
  };
}

export function toOrderDto(o: OrderRow, items: OrderItemRow[], history: HistoryRow[]): OrderDto {
  return {
    ...toSummary(o),
    items: items.map((i) => ({
      line: i.line,
      sku: i.sku,
      variantId: i.variantId,
      quantity: i.quantity,
      unitPriceAmount: i.unitPriceAmount,
      lineTotalAmount: i.lineTotalAmount,
      condition: i.condition,
    })),
    // Absent parts are null, as in every service's views, not left out.
    shippingAddress: o.shippingAddress ?? null,
    reservation: o.reservationId ? { id: o.reservationId, expiresAt: o.reservationExpiresAt ? iso(o.reservationExpiresAt) : null } : null,
    rejectionReasons: o.rejectionReasons ?? null,
    cancelReason: o.cancelReason ?? null,
    history: history.map(toHistory),
  };
}
