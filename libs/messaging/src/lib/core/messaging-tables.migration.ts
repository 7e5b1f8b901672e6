import { migrationClass, type MigrationClass } from '@tessera/persistence';
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
 * Services list it among their migrations: `migrations: [messagingTablesMigration('identity'), ...]`.
 * The outbox has no RLS on purpose: the relay reads every tenant's pending rows.
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
