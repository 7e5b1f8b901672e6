// `nx run identity:migrate` / `identity:migrate-revert`: provisions the identity roles and schema, then applies or
// reverts migrations as the schema owner. Reads DATABASE_URL (admin) and DB_APP_PASSWORD.
import { ensureMessagingSchema } from '@tessera/messaging';
import { migrationCli } from '@tessera/persistence';
import { IDENTITY_ENTITIES, IDENTITY_SCHEMA } from './entities';
import { IDENTITY_MIGRATIONS } from './migrations';

async function main(): Promise<void> {
  const adminUrl = process.env['DATABASE_URL'];
  // With the postgres event transport (no KAFKA_BROKERS) the relay publishes into the shared `messaging` schema;
  // creating it here (idempotent) lets migrate grant the runtime role its DML there.
  if (process.argv[2] === 'run' && adminUrl && !process.env['KAFKA_BROKERS']) await ensureMessagingSchema(adminUrl);
  await migrationCli({
    schema: IDENTITY_SCHEMA,
    migrations: IDENTITY_MIGRATIONS,
    entities: IDENTITY_ENTITIES,
    extraSchemas: ['messaging'],
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`[migrate identity] failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
