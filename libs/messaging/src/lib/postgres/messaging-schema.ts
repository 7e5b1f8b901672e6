import { Client } from 'pg';

/** Schema of the postgres transport: a partitioned log with per-group offsets. Idempotent DDL. */
export const MESSAGING_SCHEMA_SQL: string[] = [
  `CREATE SCHEMA IF NOT EXISTS messaging`,
  // Partition count per topic, fixed by the first publisher or subscriber (like a created Kafka topic).
  `CREATE TABLE IF NOT EXISTS messaging.topics (
     topic text PRIMARY KEY,
     partitions integer NOT NULL CHECK (partitions > 0),
     created_at timestamptz NOT NULL DEFAULT now()
   )`,
  // The next offset of each partition. A publisher allocates offsets by updating this row and keeps its
  // row lock until commit, so offsets of one partition become visible strictly in order: a reader that
  // sees offset n can never later find a smaller offset appearing (the late-commit trap).
  `CREATE TABLE IF NOT EXISTS messaging.partition_heads (
     topic text NOT NULL,
     partition integer NOT NULL,
     next_offset bigint NOT NULL,
     PRIMARY KEY (topic, partition)
   )`,
  // The envelope is json, not jsonb: the log only stores and returns it whole, and json keeps the text as given
  // (no conversion to and from jsonb's binary form on every publish and read).
  `CREATE TABLE IF NOT EXISTS messaging.events (
     topic text NOT NULL,
     partition integer NOT NULL,
     "offset" bigint NOT NULL,
     key text NOT NULL,
     envelope json NOT NULL,
     published_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (topic, partition, "offset")
   )`,
  // Logs created before the envelope became json (their data folders survive restarts).
  `DO $$ BEGIN
     IF (SELECT data_type FROM information_schema.columns
          WHERE table_schema = 'messaging' AND table_name = 'events' AND column_name = 'envelope') = 'jsonb' THEN
       ALTER TABLE messaging.events ALTER COLUMN envelope TYPE json USING envelope::json;
     END IF;
   END $$`,
  // committed_offset is the next offset to read (Kafka semantics).
  `CREATE TABLE IF NOT EXISTS messaging.consumer_offsets (
     group_id text NOT NULL,
     topic text NOT NULL,
     partition integer NOT NULL,
     committed_offset bigint NOT NULL,
     updated_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (group_id, topic, partition)
   )`,
  `CREATE TABLE IF NOT EXISTS messaging.group_members (
     group_id text NOT NULL,
     member_id uuid NOT NULL,
     backend_pid integer NOT NULL,
     heartbeat_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (group_id, member_id)
   )`,
];

export interface EnsureMessagingSchemaOptions {
  /** Login roles given USAGE and DML on the schema (services' runtime roles). */
  grantTo?: string[];
}

/** Creates the `messaging` schema and tables (admin connection). Safe to run concurrently and repeatedly. */
export async function ensureMessagingSchema(adminUrl: string, opts: EnsureMessagingSchemaOptions = {}): Promise<void> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    // Concurrent CREATE ... IF NOT EXISTS can still collide in the catalogs; serialize the migrators.
    await client.query(`SELECT pg_advisory_xact_lock(hashtextextended('tessera.messaging.schema', 0))`);
    for (const sql of MESSAGING_SCHEMA_SQL) await client.query(sql);
    for (const role of opts.grantTo ?? []) {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(role)) throw new Error(`invalid role name: ${role}`);
      await client.query(`GRANT USAGE ON SCHEMA messaging TO "${role}"`);
      await client.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA messaging TO "${role}"`);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await client.end();
  }
}
