import { deadLettersMigration, messagingTablesMigration, outboxRlsMigration } from '@tessera/messaging';
import { idempotencyKeysPurgeMigration } from '@tessera/persistence';
import { OrdersSchema1763800000000 } from './1763800000000-orders-schema';
import { IdempotencyClaim1795300000000 } from './1795300000000-idempotency-claim';
import { LineCondition1796000000000 } from './1796000000000-line-condition';

export const ORDERS_SCHEMA = 'orders';

/** Every orders migration, in order. */
export const ORDERS_MIGRATIONS = [
  messagingTablesMigration(ORDERS_SCHEMA, 1763700000000),
  OrdersSchema1763800000000,
  IdempotencyClaim1795300000000,
  // The purge of expired Idempotency-Keys (POST /v1/orders).
  idempotencyKeysPurgeMigration(ORDERS_SCHEMA),
  LineCondition1796000000000,
  // The outbox under tenant isolation, the relay's session excepted.
  outboxRlsMigration(ORDERS_SCHEMA),
  // Events whose handler keeps failing, parked with the later events of their key (EVENT_MAX_ATTEMPTS).
  deadLettersMigration(ORDERS_SCHEMA),
];
