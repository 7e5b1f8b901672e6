import { Controller, Logger } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import {
  OrdersEventTypes,
  type EventEnvelope,
  type OrderCancelledV1,
  type OrderExpiredV1,
  type OrderPaidV1,
  type OrderPlacedV1,
} from '@tessera/contracts';
import { InventoryDomain, InventoryError } from '../domain';

/**
 * The inventory side of the order saga. Every step is idempotent by reference (the order id), so a redelivered
 * event changes nothing and needs no inbox row: reserve answers the first outcome again, commit and release of an
 * ended reservation are no-ops. Outcomes travel as inventory.reservation.* events through the outbox.
 */
@Controller()
export class OrderEventsController {
  private readonly log = new Logger(OrderEventsController.name);

  constructor(private readonly inventory: InventoryDomain) {}

  @EventPattern(OrdersEventTypes.OrderPlaced)
  async onPlaced(@Payload() e: EventEnvelope<OrderPlacedV1>): Promise<void> {
    await this.settle(e, () =>
      this.inventory.reservations.reserve(
        e.tenantid,
        {
          reference: e.data.orderId,
          lines: e.data.items.map((i) => ({ sku: i.sku, quantity: i.quantity, condition: i.condition })),
          // The carrier collects the money days later: the stock is held for the tenant's cash-on-delivery TTL.
          cashOnDelivery: e.data.paymentMethod === 'cod',
        },
        { actor: 'event:orders', correlationId: e.id },
      ),
    );
  }

  @EventPattern(OrdersEventTypes.OrderPaid)
  async onPaid(@Payload() e: EventEnvelope<OrderPaidV1>): Promise<void> {
    await this.settle(e, () => this.inventory.reservations.commit(e.tenantid, e.data.orderId, { actor: 'event:orders', correlationId: e.id }));
  }

  @EventPattern(OrdersEventTypes.OrderCancelled)
  async onCancelled(@Payload() e: EventEnvelope<OrderCancelledV1>): Promise<void> {
    await this.settle(e, () => this.inventory.reservations.release(e.tenantid, e.data.orderId, { actor: 'event:orders', correlationId: e.id }));
  }

  /** Normally the reservation expired first (and caused this); releasing again is a no-op then. */
  @EventPattern(OrdersEventTypes.OrderExpired)
  async onExpired(@Payload() e: EventEnvelope<OrderExpiredV1>): Promise<void> {
    await this.settle(e, () => this.inventory.reservations.release(e.tenantid, e.data.orderId, { actor: 'event:orders', correlationId: e.id }));
  }

  /**
   * A domain refusal (no such reservation, one already ended otherwise, invalid lines) will not change on retry:
   * it is logged and the event acknowledged. Anything else throws, so the transport redelivers.
   */
  private async settle(e: EventEnvelope, step: () => Promise<unknown>): Promise<void> {
    try {
      await step();
    } catch (err) {
      if (!(err instanceof InventoryError)) throw err;
      this.log.warn(`${e.type} ${e.id} (${e.subject}) ignored: ${err.code}: ${err.message}`);
    }
  }
}
