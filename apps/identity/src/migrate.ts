// `nx run identity:migrate` / `identity:migrate-revert`: provisions the identity roles and schema, then applies or
// reverts migrations as the schema owner. Reads DATABASE_URL (admin) and DB_APP_PASSWORD.
import { ensureMessagingSchema, parseKafkaBrokers } from '@tessera/messaging';
import { migrationCli } from '@tessera/persistence';
import { IDENTITY_ENTITIES, IDENTITY_SCHEMA } from './entities';
import { IDENTITY_MIGRATIONS } from './migrations';

void migrationCli({
  schema: IDENTITY_SCHEMA,
  migrations: IDENTITY_MIGRATIONS,
  entities: IDENTITY_ENTITIES,
  extraSchemas: ['messaging'],
  // With the postgres event transport (no KAFKA_BROKERS) the relay publishes into the shared `messaging` schema;
  // creating it here (idempotent) lets migrate grant the runtime role its DML there. KAFKA_BROKERS is read as the
  // services read it (parseKafkaBrokers), so a value listing no broker is refused, not taken for Kafka.
  beforeRun: async (adminUrl, env) => {
    if (!parseKafkaBrokers(env)) await ensureMessagingSchema(adminUrl);
  },
});
