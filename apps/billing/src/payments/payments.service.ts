import { Injectable } from '@nestjs/common';
import type { PaymentOrderEndReason, PaymentRefundReason } from '@tessera/contracts';
import { IdempotencyKeys, TenantTransactions, type IdempotencyOutcome, timeOrderedUuid } from '@tessera/persistence';
import { ConflictProblem, decodeCursor, encodeCursor, NotFoundProblem } from '@tessera/service-kit';
import { z } from 'zod';
import type { BillingTx } from '../billing-tx';
import { endReasonOf, isOrderEnded, OrderStatusBook } from '../order-status/order-status.book';
import type { ListPaymentsQueryDto, PaymentDetailDto, PaymentListDto } from './dto/payment.dto';
import { PaymentEvents } from './payment-events';
import { recordPaymentChange } from './payment-history';
import { toHistoryEntryDto, toPaymentDto } from './payment.mapper';
import { PaymentStatusChangeEntity } from './payment-status-change.entity';
import { PaymentEntity } from './payment.entity';

const cursorSchema = z.object({ t: z.string().datetime(), i: z.string().uuid() });

/** Staff's side of payments: reading them, confirming that the money arrived, recording that it failed, trying again. */
@Injectable()
export class PaymentsService {
  constructor(
    private readonly transactions: TenantTransactions,
    private readonly book: OrderStatusBook,
    private readonly events: PaymentEvents,
    private readonly idempotency: IdempotencyKeys,
  ) {}

  /** Newest first, keyset-paginated on (created_at, id). */
  list(tenantId: string, query: ListPaymentsQueryDto): Promise<PaymentListDto> {
    const after = query.cursor ? decodeCursor(query.cursor, cursorSchema) : null;
    return this.transactions.run(tenantId, async (tx) => {
      const qb = tx.manager.createQueryBuilder(PaymentEntity, 'p').where('p.tenantId = :tenantId', { tenantId });
      if (query.orderId) qb.andWhere('p.orderId = :orderId', { orderId: query.orderId });
      if (query.status) qb.andWhere('p.status = :status', { status: query.status });
      if (query.refundRequired !== undefined) qb.andWhere('p.refundRequired = :refund', { refund: query.refundRequired });
      if (after) qb.andWhere('(p.createdAt, p.id) < (:t, :i)', { t: new Date(after.t), i: after.i });
      const rows = await qb.orderBy('p.createdAt', 'DESC').addOrderBy('p.id', 'DESC').limit(query.limit + 1).getMany();
      const page = rows.slice(0, query.limit);
      const last = page[page.length - 1];
      const nextCursor = rows.length > query.limit && last ? encodeCursor({ t: last.createdAt.toISOString(), i: last.id }) : null;
      return { items: page.map(toPaymentDto), nextCursor };
    });
  }

  get(tenantId: string, id: string): Promise<PaymentDetailDto> {
    return this.transactions.run(tenantId, async (tx) => {
      const payment = await tx.manager.findOneBy(PaymentEntity, { id });
      if (!payment) throw paymentNotFound(id);
      return this.detail(tx, payment);
    });
  }

  /**
   * pending → confirmed. When the order is known to have ended, the money is still recorded (confirmed) and
   * flagged for refund at once; that also covers money arriving after the end cancelled the payment, which is
   * never refused, because refusing it would lose track of money the customer did send. So does money for a payment
   * staff had marked failed: it pays the order when that payment is still the order's newest attempt and the order
   * has not ended, and is flagged for refund otherwise (`payment_superseded` when a later attempt replaced it).
   */
  confirm(tenantId: string, id: string, actorId: string | null): Promise<PaymentDetailDto> {
    return this.transactions.run(tenantId, async (tx) => {
      const payment = await this.lock(tx, id);
      const from = payment.status;
      let refundReason: PaymentRefundReason | null;
      if (payment.status === 'pending') {
        refundReason = await this.endOfOrder(tx, payment);
      } else if (payment.status === 'cancelled' && payment.cancelReason) {
        refundReason = payment.cancelReason;
      } else if (payment.status === 'failed') {
        // A retry of this payment locks it before opening the next attempt: a newer attempt is seen here or none is
        // opened after this commits (the retry then finds this payment confirmed).
        const newer = await tx.manager.findOne(PaymentEntity, {
          where: { tenantId, orderId: payment.orderId },
          order: { attempt: 'DESC' },
          select: { id: true, attempt: true },
        });
        refundReason = newer && newer.attempt > payment.attempt ? 'payment_superseded' : await this.endOfOrder(tx, payment);
      } else {
        throw notPending(payment, 'confirmed');
      }
      const now = new Date();
      Object.assign(payment, {
        status: 'confirmed',
        confirmedAt: now,
        updatedAt: now,
        refundRequired: refundReason !== null,
        refundReason,
      } satisfies Partial<PaymentEntity>);
      await tx.manager.update(
        PaymentEntity,
        { id },
        { status: payment.status, confirmedAt: now, updatedAt: now, refundRequired: payment.refundRequired, refundReason },
      );
      await recordPaymentChange(tx, payment, { from, actorId, reason: refundReason });
      await this.events.confirmed(tx, payment);
      return this.detail(tx, payment);
    });
  }

  /** Why money for this payment must go back because its order ended, or null while the order has not ended. */
  private async endOfOrder(tx: BillingTx, payment: PaymentEntity): Promise<PaymentOrderEndReason | null> {
    const orderStatus = await this.book.statusOf(tx, payment.orderId);
    return isOrderEnded(orderStatus) ? endReasonOf(orderStatus) : null;
  }

  /** pending → failed (declined card, transfer that never came, refused delivery). */
  fail(tenantId: string, id: string, actorId: string | null, reason: string | null): Promise<PaymentDetailDto> {
    return this.transactions.run(tenantId, async (tx) => {
      const payment = await this.lock(tx, id);
      if (payment.status !== 'pending') throw notPending(payment, 'failed');
      const now = new Date();
      Object.assign(payment, { status: 'failed', failureReason: reason, updatedAt: now } satisfies Partial<PaymentEntity>);
      await tx.manager.update(PaymentEntity, { id }, { status: 'failed', failureReason: reason, updatedAt: now });
      await recordPaymentChange(tx, payment, { from: 'pending', actorId, reason });
      await this.events.failed(tx, payment);
      return this.detail(tx, payment);
    });
  }

  /**
   * failed → a new pending payment for the same order (the next attempt: same amount, currency, method and due
   * date), while the order still awaits payment. Only the newest attempt can be retried, so a second retry of the
   * same failure is a conflict, not a second payment. The book's row is read FOR SHARE: an order's end recorded
   * concurrently waits for this transaction and then cancels the new payment, or committed first and refuses it.
   * Locks in the saga's order, the book's row before the payment (an order's end records the book, then locks the
   * newest payment): the other order deadlocked with it.
   *
   * `Idempotency-Key` (validated by the controller): the new attempt, its event and the stored 201 commit together,
   * so a client resending a retry whose answer it lost gets that 201 again instead of `payment_superseded` from its
   * own first attempt. A refusal (409, 404) is not stored and frees the key.
   */
  retry(tenantId: string, id: string, actorId: string | null, idempotencyKey?: string): Promise<IdempotencyOutcome<PaymentDetailDto>> {
    // The route takes no body (NoBodyPipe): the payment it names is the whole request, so the key's fingerprint
    // covers the id (lower-cased by UuidParamPipe), and the same key sent for another payment is a 422.
    const request = { key: idempotencyKey, operation: 'POST /v1/payments/{id}/retry', body: { id } };
    return this.idempotency.perform(tenantId, request, async (tx) => ({ status: 201, body: await this.openNextAttempt(tx, id, actorId) }));
  }

  /** The work of `retry`, in the transaction that also stores its response under the Idempotency-Key. */
  private async openNextAttempt(tx: BillingTx, id: string, actorId: string | null): Promise<PaymentDetailDto> {
    const { tenantId } = tx;
    // The book's row of the payment's order, found through the payment in the same statement.
    const [book]: { status: string }[] = await tx.manager.query(
      `SELECT o.status FROM billing.order_statuses o
         JOIN billing.payments p ON p.tenant_id = o.tenant_id AND p.order_id = o.order_id
        WHERE p.id = $1 FOR SHARE OF o`,
      [id],
    );
    const failed = await this.lock(tx, id);
    if (failed.status !== 'failed') {
      throw new ConflictProblem(`payment ${id} is ${failed.status}: only a failed payment can be tried again`, {
        extensions: { reason: 'payment_not_failed', paymentStatus: failed.status },
      });
    }
    const newer = await tx.manager.findOne(PaymentEntity, {
      where: { tenantId, orderId: failed.orderId },
      order: { attempt: 'DESC' },
      select: { id: true, attempt: true },
    });
    if (newer && newer.attempt > failed.attempt) {
      throw new ConflictProblem(`payment ${id} was already tried again as payment ${newer.id}`, {
        extensions: { reason: 'payment_superseded', paymentId: newer.id },
      });
    }
    if (book?.status !== 'awaiting_payment') {
      throw new ConflictProblem(`order ${failed.orderId} is ${book?.status ?? 'unknown'}: there is nothing left to collect`, {
        extensions: { reason: 'order_not_awaiting_payment', orderStatus: book?.status ?? null },
      });
    }
    const now = new Date();
    const payment: PaymentEntity = {
      ...failed,
      id: timeOrderedUuid(),
      attempt: failed.attempt + 1,
      retryOf: failed.id,
      status: 'pending',
      refundRequired: false,
      refundReason: null,
      failureReason: null,
      cancelReason: null,
      createdAt: now,
      updatedAt: now,
      confirmedAt: null,
    };
    await tx.manager.insert(PaymentEntity, payment);
    await recordPaymentChange(tx, payment, { from: null, actorId, reason: `retry of payment ${failed.id}` });
    await this.events.created(tx, payment);
    return this.detail(tx, payment);
  }

  /** Locks the payment row: a concurrent confirm, fail or saga step on it waits for this transaction. */
  private async lock(tx: BillingTx, id: string): Promise<PaymentEntity> {
    const payment = await tx.manager.findOne(PaymentEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
    if (!payment) throw paymentNotFound(id);
    return payment;
  }

  private async detail(tx: BillingTx, payment: PaymentEntity): Promise<PaymentDetailDto> {
    const history = await tx.manager.find(PaymentStatusChangeEntity, { where: { paymentId: payment.id }, order: { id: 'ASC' } });
    return { ...toPaymentDto(payment), history: history.map(toHistoryEntryDto) };
  }
}

function paymentNotFound(id: string): NotFoundProblem {
  return new NotFoundProblem(`payment ${id} not found`);
}

function notPending(payment: PaymentEntity, wanted: 'confirmed' | 'failed'): ConflictProblem {
  return new ConflictProblem(`payment ${payment.id} is ${payment.status} and cannot be ${wanted}`, {
    extensions: { reason: 'payment_not_pending', paymentStatus: payment.status },
  });
}
