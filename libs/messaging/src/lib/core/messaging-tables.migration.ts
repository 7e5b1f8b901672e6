import { disableTenantRls, enableTenantRls, migrationClass, type MigrationClass } from '@tessera/persistence';
import { quoteSchema } from './sql-names';

/** The DDL of a service's outbox and inbox tables, in `schema`. Idempotent. */
export function messagingTablesSql(schema: string): string[] {
  const s = quoteSchema(schema);
  return [
    `CREATE TABLE IF NOT EXISTS ${s}.outbox_events (
       id uuid PRIMARY KEY,
       seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
       topic text NOT NULL,
       partition_key text NOT NULL,
       type text NOT NULL,
       tenant_id uuid NOT NULL,
       envelope jsonb NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now(),
       published_at timestamptz,
       attempts integer NOT NULL DEFAULT 0
     )`,
    // The relay only ever reads pending rows in seq order: a partial index keeps that cheap however
    // many published rows wait for pruning.
    `CREATE INDEX IF NOT EXISTS outbox_events_pending_idx ON ${s}.outbox_events (seq) WHERE published_at IS NULL`,
    `CREATE INDEX IF NOT EXISTS outbox_events_published_idx ON ${s}.outbox_events (published_at) WHERE published_at IS NOT NULL`,
    `CREATE TABLE IF NOT EXISTS ${s}.processed_events (
       consumer_group text NOT NULL,
       event_id uuid NOT NULL,
       tenant_id uuid NOT NULL,
       processed_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (consumer_group, event_id)
     )`,
    `CREATE INDEX IF NOT EXISTS processed_events_processed_at_idx ON ${s}.processed_events (processed_at)`,
  ];
}

/**
 * A TypeORM migration class creating `<schema>.outbox_events` and `<schema>.processed_events`.
 * Services list it among their migrations: `migrations: [messagingTablesMigration('identity'), ...]`, and after it
 * outboxRlsMigration, which puts the outbox under tenant isolation.
 */
export function messagingTablesMigration(schema: string, timestamp = 1700000000000): MigrationClass {
  const statements = messagingTablesSql(schema);
  const s = quoteSchema(schema);
  return migrationClass(`MessagingTables${timestamp}`, {
    async up(queryRunner) {
      for (const sql of statements) await queryRunner.query(sql);
    },
    async down(queryRunner) {
      await queryRunner.query(`DROP TABLE IF EXISTS ${s}.processed_events`);
      await queryRunner.query(`DROP TABLE IF EXISTS ${s}.outbox_events`);
    },
  });
}

/** The session setting of the relay's own connection, under which the outbox shows every tenant's rows. */
export const OUTBOX_RELAY_SETTING = 'tessera.outbox_relay';
export const OUTBOX_RELAY_POLICY = 'outbox_relay';

/**
 * Puts `<schema>.outbox_events` under forced RLS like every tenant table: events carry tenant data (an order's
 * customer, a user's email), so a business transaction sees and writes only its own tenant's rows. The relay must
 * read and delete every tenant's pending rows: its dedicated connection sets OUTBOX_RELAY_SETTING for its session
 * (and its statistics and pruning set it for their transaction), which a second, permissive policy admits. Like
 * `app.tenant_id`, the setting guards against queries that forget the tenant, not against code that sets it on
 * purpose. `processed_events` stays without RLS: it holds event ids only, and a consumer batch records the ids of
 * several tenants' events in one statement.
 */
export function outboxRlsMigration(schema: string, timestamp = 1796600000000): MigrationClass {
  const s = quoteSchema(schema);
  return migrationClass(`OutboxRls${timestamp}`, {
    async up(queryRunner) {
      await enableTenantRls(queryRunner, schema, 'outbox_events');
      await queryRunner.query(
        `CREATE POLICY ${OUTBOX_RELAY_POLICY} ON ${s}.outbox_events USING (current_setting('${OUTBOX_RELAY_SETTING}', true) = 'on')`,
      );
    },
    async down(queryRunner) {
      await queryRunner.query(`DROP POLICY IF EXISTS ${OUTBOX_RELAY_POLICY} ON ${s}.outbox_events`);
      await disableTenantRls(queryRunner, schema, 'outbox_events');
    },
  });
}
