import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import {
  BillingEventTypes,
  InventoryEventTypes,
  type EventEnvelope,
  type PaymentCancelledV1,
  type PaymentConfirmedV1,
  type PaymentCreatedV1,
  type PaymentFailedV1,
  type ReservationCommitRefusedV1,
  type ReservationConfirmedV1,
  type ReservationExpiredV1,
  type ReservationRejectedV1,
} from '@tessera/contracts';
import { Inbox } from '@tessera/messaging';
import { OrderSaga } from './order-saga.service';

/** Inventory and billing events that move orders; each runs once per event id through the inbox. */
@Controller()
export class OrderEventsController {
  constructor(
    private readonly inbox: Inbox,
    private readonly saga: OrderSaga,
  ) {}

  @EventPattern(InventoryEventTypes.ReservationConfirmed)
  async onReservationConfirmed(@Payload() e: EventEnvelope<ReservationConfirmedV1>): Promise<void> {
    await this.inbox.run(e, (tx) => this.saga.onReservationConfirmed(tx));
  }

  @EventPattern(InventoryEventTypes.ReservationRejected)
  async onReservationRejected(@Payload() e: EventEnvelope<ReservationRejectedV1>): Promise<void> {
    await this.inbox.run(e, (tx) => this.saga.onReservationRejected(tx));
  }

  @EventPattern(InventoryEventTypes.ReservationExpired)
  async onReservationExpired(@Payload() e: EventEnvelope<ReservationExpiredV1>): Promise<void> {
    await this.inbox.run(e, (tx) => this.saga.onReservationExpired(tx));
  }

  @EventPattern(InventoryEventTypes.ReservationCommitRefused)
  async onReservationCommitRefused(@Payload() e: EventEnvelope<ReservationCommitRefusedV1>): Promise<void> {
    await this.inbox.run(e, (tx) => this.saga.onReservationCommitRefused(tx));
  }

  @EventPattern(BillingEventTypes.PaymentCreated)
  async onPaymentCreated(@Payload() e: EventEnvelope<PaymentCreatedV1>): Promise<void> {
    await this.inbox.run(e, (tx) => this.saga.onPaymentCreated(tx));
  }

  @EventPattern(BillingEventTypes.PaymentConfirmed)
  async onPaymentConfirmed(@Payload() e: EventEnvelope<PaymentConfirmedV1>): Promise<void> {
    await this.inbox.run(e, (tx) => this.saga.onPaymentConfirmed(tx));
  }

  @EventPattern(BillingEventTypes.PaymentFailed)
  async onPaymentFailed(@Payload() e: EventEnvelope<PaymentFailedV1>): Promise<void> {
    await this.inbox.run(e, (tx) => this.saga.onPaymentFailed(tx));
  }

  @EventPattern(BillingEventTypes.PaymentCancelled)
  async onPaymentCancelled(@Payload() e: EventEnvelope<PaymentCancelledV1>): Promise<void> {
    await this.inbox.run(e, (tx) => this.saga.onPaymentCancelled(tx));
  }
}
