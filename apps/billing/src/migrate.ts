// `nx run billing:migrate` / `billing:migrate-revert`: provisions the billing roles and schema, then applies or
// reverts migrations as the schema owner. Reads DATABASE_URL (admin) and DB_APP_PASSWORD.
import { migrationCli } from '@tessera/persistence';
import { BILLING_ENTITIES, BILLING_SCHEMA } from './entities';
import { BILLING_MIGRATIONS } from './migrations';

void migrationCli({
  schema: BILLING_SCHEMA,
  migrations: BILLING_MIGRATIONS,
  entities: BILLING_ENTITIES,
  // The postgres event transport's log lives in the shared `messaging` schema.
  extraSchemas: ['messaging'],
});
