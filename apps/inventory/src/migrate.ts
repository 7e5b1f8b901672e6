// `nx run inventory:migrate` / `inventory:migrate-revert`: provisions the inventory roles and schema, then applies or
// reverts migrations as the schema owner. Reads DATABASE_URL (admin) and DB_APP_PASSWORD.
import { ensureMessagingSchema } from '@tessera/messaging';
import { migrationCli } from '@tessera/persistence';
import { INVENTORY_SCHEMA, inventoryMigrations } from './migrations';

async function main(): Promise<void> {
  const adminUrl = process.env['DATABASE_URL'];
  // With the postgres event transport the relay publishes into the shared `messaging` schema; creating it here
  // (idempotent) lets migrate grant the runtime role its DML there.
  if (process.argv[2] === 'run' && adminUrl && !process.env['KAFKA_BROKERS']) await ensureMessagingSchema(adminUrl);
  await migrationCli({ schema: INVENTORY_SCHEMA, migrations: inventoryMigrations, extraSchemas: ['messaging'] });
}

main().catch((error: unknown) => {
  process.stderr.write(`[migrate inventory] failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
