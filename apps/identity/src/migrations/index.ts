import { messagingTablesMigration, outboxRlsMigration } from '@tessera/messaging';
import { idempotencyKeysPurgeMigration, idempotencyKeysTableMigration, tenantIdsListingMigration } from '@tessera/persistence';
import { IdentitySchema1763800000000 } from './1763800000000-identity-schema';
import { IdentityHardening1797100000000 } from './1797100000000-identity-hardening';
import { EmailNfc1797400000000 } from './1797400000000-email-nfc';

/** Every identity migration, in order. */
export const IDENTITY_MIGRATIONS = [
  messagingTablesMigration('identity', 1763700000000),
  IdentitySchema1763800000000,
  // Idempotency-Key of POST /v1/users, /stores, /vendors and /api-keys: the shared store's table, then its purge of expired keys.
  idempotencyKeysTableMigration('identity'),
  idempotencyKeysPurgeMigration('identity'),
  // The operator's republish visits every tenant: their ids, through a SECURITY DEFINER function of the owner.
  tenantIdsListingMigration('identity', { table: 'tenants', column: 'id' }, 1796400000000),
  // The outbox under tenant isolation, the relay's session excepted.
  outboxRlsMigration('identity'),
  // The tenants policy reads an empty tenant setting as none; the lookups are identity's runtime role's alone.
  IdentityHardening1797100000000,
  // Email addresses stored before they were kept in Unicode NFC, rewritten in it.
  EmailNfc1797400000000,
];
