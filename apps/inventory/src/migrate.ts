// `nx run inventory:migrate` / `inventory:migrate-revert`: provisions the inventory roles and schema, then applies or
// reverts migrations as the schema owner. Reads DATABASE_URL (admin) and DB_APP_PASSWORD.
import { ensureMessagingSchema, parseKafkaBrokers } from '@tessera/messaging';
import { migrationCli } from '@tessera/persistence';
import { INVENTORY_SCHEMA, inventoryMigrations } from './migrations';

void migrationCli({
  schema: INVENTORY_SCHEMA,
  migrations: inventoryMigrations,
  extraSchemas: ['messaging'],
  // With the postgres event transport the relay publishes into the shared `messaging` schema; creating it here
  // (idempotent) lets migrate grant the runtime role its DML there. KAFKA_BROKERS is read as the services read it
  // (parseKafkaBrokers), so a value listing no broker is refused, not taken for Kafka.
  beforeRun: async (adminUrl, env) => {
    if (!parseKafkaBrokers(env)) await ensureMessagingSchema(adminUrl);
  },
});
