import { messagingTablesMigration } from '@tessera/messaging';
import { OrdersSchema1763800000000 } from './1763800000000-orders-schema';
import { IdempotencyClaim1795300000000 } from './1795300000000-idempotency-claim';
import { IdempotencyKeysPurge1795400000000 } from './1795400000000-idempotency-keys-purge';

export const ORDERS_SCHEMA = 'orders';

/** Every orders migration, in order. */
export const ORDERS_MIGRATIONS = [
  messagingTablesMigration(ORDERS_SCHEMA, 1763700000000),
  OrdersSchema1763800000000,
  IdempotencyClaim1795300000000,
  IdempotencyKeysPurge1795400000000,
];
