import { messagingTablesMigration } from '@tessera/messaging';
import { IdentitySchema1763800000000 } from './1763800000000-identity-schema';
import { IdempotencyKeysTable1795300000000 } from './1795300000000-idempotency-keys';
import { IdempotencyKeysPurge1795400000000 } from './1795400000000-idempotency-keys-purge';

/** Every identity migration, in order. */
export const IDENTITY_MIGRATIONS = [
  messagingTablesMigration('identity', 1763700000000),
  IdentitySchema1763800000000,
  IdempotencyKeysTable1795300000000,
  IdempotencyKeysPurge1795400000000,
];
