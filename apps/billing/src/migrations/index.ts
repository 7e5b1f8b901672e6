import { deadLettersMigration, messagingTablesMigration, outboxRlsMigration } from '@tessera/messaging';
import { idempotencyKeysPurgeMigration, idempotencyKeysTableMigration } from '@tessera/persistence';
import { BillingSchema1763900000000 } from './1763900000000-billing-schema';
import { PaymentAttempts1796500000000 } from './1796500000000-payment-attempts';
import { RefundSuperseded1797000000000 } from './1797000000000-refund-superseded';

/** Every billing migration, in order. */
export const BILLING_MIGRATIONS = [
  messagingTablesMigration('billing', 1763700000000),
  BillingSchema1763900000000,
  // A failed payment can be retried: payments of an order are numbered attempts.
  PaymentAttempts1796500000000,
  // The outbox under tenant isolation, the relay's session excepted.
  outboxRlsMigration('billing'),
  // Late money for a failed payment that a later attempt replaced: confirmed and flagged for refund.
  RefundSuperseded1797000000000,
  // Idempotency-Key of POST /v1/payments/{id}/retry: the shared store's table, then its purge of expired keys. Dated
  // after the migrations above (not the libraries' default 1795300000000/1795400000000), so that they apply last
  // and revert first on databases that already ran the others.
  idempotencyKeysTableMigration('billing', 1797200000000),
  idempotencyKeysPurgeMigration('billing', 1797300000000),
  // Events whose handler keeps failing, parked with the later events of their key (EVENT_MAX_ATTEMPTS).
  deadLettersMigration('billing'),
];
