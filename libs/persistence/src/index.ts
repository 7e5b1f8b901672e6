export {
  createServiceDataSource,
  POOL_IDLE_TIMEOUT_MS,
  SERVICE_POOL_OPTIONS,
  type ServiceDataSourceOptions,
  type EntityDefinition,
  type MigrationClass,
} from './lib/data-source';
export {
  TenantTransactions,
  InvalidTenantIdError,
  isUuid,
  type TenantTx,
  type IsolationLevel,
} from './lib/tenant-transactions';
export { acrossTenants, enableTenantRls, disableTenantRls, CURRENT_TENANT, TENANT_POLICY } from './lib/rls';
export {
  IdempotencyKeys,
  IDEMPOTENCY_KEYS_OPTIONS,
  IDEMPOTENCY_TTL_SECONDS,
  IDEMPOTENCY_ABANDONED_AFTER_SECONDS,
  type IdempotencyKeysOptions,
  type IdempotentRequest,
  type IdempotentResponse,
  type IdempotencyOutcome,
  type IdempotencyClaim,
  type ClaimOutcome,
  type PerformOptions,
} from './lib/idempotency-keys';
export {
  createIdempotencyKeysTable,
  dropIdempotencyKeysTable,
  createIdempotencyKeysPurge,
  dropIdempotencyKeysPurge,
  IDEMPOTENCY_KEYS_TABLE,
} from './lib/idempotency-keys-table';
export { migrationClass, idempotencyKeysTableMigration, idempotencyKeysPurgeMigration, tenantIdsListingMigration } from './lib/migration-class';
export {
  createTenantIdsListing,
  dropTenantIdsListing,
  TENANT_IDS_FUNCTION,
  TENANT_IDS_POLICY,
  type TenantIdsSource,
} from './lib/tenant-listing';
export { IdempotencyKeysPurger, type IdempotencyKeysPurgeOptions } from './lib/idempotency-keys-purge';
export { provisionService, runtimeDatabaseUrl, runtimeRolePassword, schemaSetupLock, type ProvisionOptions } from './lib/provision';
export { ownerRoleName, runtimeRoleName, assertSchemaName, ident } from './lib/service-names';
export {
  runMigrations,
  revertLastMigration,
  type MigrationRunOptions,
  type MigrationRevertOptions,
} from './lib/migrations';
export { migrationCli, type MigrationCliConfig } from './lib/migration-cli';
export { resolveRuntimeDatabaseUrl } from './lib/runtime-url';
export { pingDatabase } from './lib/health';
export { timeOrderedUuid } from './lib/time-ordered-uuid';
export { coalescingSocket } from './lib/coalescing-socket';
export { DEFAULT_POOL_SIZE, poolSizeFromEnv } from './lib/pool-size';
export { PreparedQuery, connectionOf, preparedRows, preparedSend, type Queryable } from './lib/prepared-query';
export {
  beginTransaction,
  commitTransaction,
  rollbackTransaction,
  inTransaction,
  sendWithoutWaiting,
  TransactionAbortedError,
  TransactionEndedError,
  type BeginOptions,
} from './lib/pipelined-transaction';
export { PersistenceModule, PERSISTENCE_OPTIONS, type PersistenceModuleOptions } from './lib/nest/persistence.module';
