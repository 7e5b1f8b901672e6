// `nx run orders:migrate` / `orders:migrate-revert`: provisions the orders roles and schema, then applies or
// reverts migrations as the schema owner. Reads DATABASE_URL (admin) and DB_APP_PASSWORD.
import { migrationCli } from '@tessera/persistence';
import { ORDERS_MIGRATIONS, ORDERS_SCHEMA } from './migrations';

void migrationCli({
  schema: ORDERS_SCHEMA,
  migrations: ORDERS_MIGRATIONS,
  // The postgres event transport's log lives in the shared `messaging` schema.
  extraSchemas: ['messaging'],
});
