// `nx run inventory:migrate` / `inventory:migrate-revert`: provisions the inventory roles and schema, then applies or
// reverts migrations as the schema owner. Reads DATABASE_URL (admin) and DB_APP_PASSWORD.
import { ensureMessagingSchemaUnlessKafka } from '@tessera/messaging';
import { migrationCli } from '@tessera/persistence';
import { INVENTORY_SCHEMA, inventoryMigrations } from './migrations';

void migrationCli({
  schema: INVENTORY_SCHEMA,
  migrations: inventoryMigrations,
  extraSchemas: ['messaging'],
  // The postgres event transport's log lives in the shared `messaging` schema, created here when it is used.
  beforeRun: ensureMessagingSchemaUnlessKafka,
});
