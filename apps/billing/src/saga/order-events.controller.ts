import { Controller, Logger } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { eventTimeOrNow, OrdersEventTypes, type EventEnvelope } from '@tessera/contracts';
import { Inbox, type InboxOutcome } from '@tessera/messaging';
import { isUuid } from '@tessera/persistence';
import type { z } from 'zod';
import type { BillingTx, CauseEvent } from '../billing-tx';
import { awaitingPaymentSchema, orderExpiredSchema, orderRefSchema } from './order-event.schemas';
import { PaymentSaga } from './payment-saga';

/**
 * Orders events billing reacts to. Every effect goes through the Inbox (event id recorded in the same
 * transaction), so redelivery is harmless. A malformed event is logged and acknowledged: retrying it forever
 * would block every later event of its partition, and no retry can fix it.
 */
@Controller()
export class OrderEventsController {
  private readonly log = new Logger(OrderEventsController.name);

  constructor(
    private readonly inbox: Inbox,
    private readonly saga: PaymentSaga,
  ) {}

  @EventPattern(OrdersEventTypes.OrderAwaitingPayment)
  onAwaitingPayment(@Payload() event: EventEnvelope<unknown>): Promise<InboxOutcome | 'invalid'> {
    return this.consume(event, awaitingPaymentSchema, async (tx, data, cause) => {
      await this.saga.openPayment(tx, data, cause);
    });
  }

  @EventPattern(OrdersEventTypes.OrderCancelled)
  onCancelled(@Payload() event: EventEnvelope<unknown>): Promise<InboxOutcome | 'invalid'> {
    return this.consume(event, orderRefSchema, (tx, data, cause) => this.saga.orderEnded(tx, data.orderId, 'cancelled', cause));
  }

  @EventPattern(OrdersEventTypes.OrderExpired)
  onExpired(@Payload() event: EventEnvelope<unknown>): Promise<InboxOutcome | 'invalid'> {
    return this.consume(event, orderExpiredSchema, (tx, data, cause) =>
      this.saga.orderEnded(tx, data.orderId, 'expired', cause, { afterPaid: data.previousStatus === 'paid' }),
    );
  }

  @EventPattern(OrdersEventTypes.OrderPaid)
  onPaid(@Payload() event: EventEnvelope<unknown>): Promise<InboxOutcome | 'invalid'> {
    return this.consume(event, orderRefSchema, (tx, data, cause) => this.saga.orderSettled(tx, data.orderId, 'paid', cause));
  }

  @EventPattern(OrdersEventTypes.OrderRejected)
  onRejected(@Payload() event: EventEnvelope<unknown>): Promise<InboxOutcome | 'invalid'> {
    return this.consume(event, orderRefSchema, (tx, data, cause) => this.saga.orderSettled(tx, data.orderId, 'rejected', cause));
  }

  private async consume<S extends z.ZodTypeAny>(
    event: EventEnvelope<unknown>,
    schema: S,
    effect: (tx: BillingTx, data: z.infer<S>, cause: CauseEvent) => Promise<void>,
  ): Promise<InboxOutcome | 'invalid'> {
    const parsed = schema.safeParse(event.data);
    if (!isUuid(event.tenantid) || !isUuid(event.id) || !parsed.success) {
      const why = parsed.success ? 'tenantid or id is not a UUID' : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      this.log.error(`ignoring malformed ${event.type} ${String(event.id)}: ${why}`);
      return 'invalid';
    }
    const cause: CauseEvent = { id: event.id, type: event.type, time: eventTimeOrNow(event.time) };
    return this.inbox.run(event, (tx) => effect(tx, parsed.data, cause));
  }
}
