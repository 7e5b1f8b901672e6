// `nx run identity:migrate` / `identity:migrate-revert`: provisions the identity roles and schema, then applies or
// reverts migrations as the schema owner. Reads DATABASE_URL (admin) and DB_APP_PASSWORD.
import { ensureMessagingSchemaUnlessKafka } from '@tessera/messaging';
import { migrationCli } from '@tessera/persistence';
import { IDENTITY_ENTITIES, IDENTITY_SCHEMA } from './entities';
import { IDENTITY_MIGRATIONS } from './migrations';

void migrationCli({
  schema: IDENTITY_SCHEMA,
  migrations: IDENTITY_MIGRATIONS,
  entities: IDENTITY_ENTITIES,
  extraSchemas: ['messaging'],
  // The postgres event transport's log lives in the shared `messaging` schema, created here when it is used.
  beforeRun: ensureMessagingSchemaUnlessKafka,
});
