import { Client } from 'pg';
import { schemaSetupLock } from '@tessera/persistence';

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
  // The topics each member reads: members of one group may read different ones (a rolling deploy that adds a
  // topic), and each topic's partitions are split over its own readers. NULL for members of an older version.
  `DO $$ BEGIN
     IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                     WHERE table_schema = 'messaging' AND table_name = 'group_members' AND column_name = 'topics') THEN
       ALTER TABLE messaging.group_members ADD COLUMN topics text[];
     END IF;
   END $$`,
  // Every service's runtime role reads and writes this schema, so its writes are confined by role: a service's role
  // `tessera_<context>` publishes (and prunes) only on its own topic `tessera.<context>.events` and moves only its
  // own consumer group `<context>`'s offsets and members; reads stay open (a service consumes other contexts' topics,
  // and pruning reads every group's offsets). Without this, one service's credentials could forge another context's
  // events or skip another group past them. Other login roles (operators, tests' own roles) are not confined, and
  // the superuser that owns the schema bypasses RLS.
  `CREATE OR REPLACE FUNCTION messaging.role_context() RETURNS text LANGUAGE sql STABLE
     AS $f$ SELECT CASE WHEN current_user ~ '^tessera_[a-z][a-z0-9_]*$' THEN substr(current_user, 9) END $f$`,
  `CREATE OR REPLACE FUNCTION messaging.may_publish(p_topic text) RETURNS boolean LANGUAGE sql STABLE
     AS $f$ SELECT coalesce(p_topic = 'tessera.' || messaging.role_context() || '.events', true) $f$`,
  `CREATE OR REPLACE FUNCTION messaging.may_consume(p_group text) RETURNS boolean LANGUAGE sql STABLE
     AS $f$ SELECT coalesce(p_group = messaging.role_context(), true) $f$`,
  // Any role may register a topic (a consumer that starts before the publisher does, and insert-if-absent never
  // changes an existing row), but only its publisher's role may change or delete it: transports cache the
  // partition count, so a row changed under them would break per-key order.
  ...confined('topics', 'messaging.may_publish(topic)', { anyInserts: true }),
  ...confined('partition_heads', 'messaging.may_publish(topic)'),
  ...confined('events', 'messaging.may_publish(topic)'),
  ...confined('consumer_offsets', 'messaging.may_consume(group_id)'),
  ...confined('group_members', 'messaging.may_consume(group_id)'),
];

/**
 * RLS on a log table: reads open to every role, writes only where `check` holds (inserts of any row with
 * `anyInserts`). Idempotent, and a no-op when in place: this runs on every migration of a service, and ALTER TABLE
 * or CREATE POLICY would lock the log (and so every running service's publishes) each time.
 */
function confined(table: string, check: string, opts: { anyInserts?: boolean } = {}): string[] {
  const policies: [string, string][] = [
    ['reads', 'FOR SELECT USING (true)'],
    opts.anyInserts ? ['inserts', 'FOR INSERT WITH CHECK (true)'] : ['own_inserts', `FOR INSERT WITH CHECK (${check})`],
    ['own_updates', `FOR UPDATE USING (${check}) WITH CHECK (${check})`],
    ['own_deletes', `FOR DELETE USING (${check})`],
  ];
  return [
    `DO $$ BEGIN
       IF NOT (SELECT relrowsecurity FROM pg_class WHERE oid = 'messaging.${table}'::regclass) THEN
         ALTER TABLE messaging.${table} ENABLE ROW LEVEL SECURITY;
       END IF;
       ${policies
         .map(
           ([name, body]) => `IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE schemaname = 'messaging' AND tablename = '${table}' AND policyname = '${name}') THEN
         CREATE POLICY ${name} ON messaging.${table} ${body};
       END IF;`,
         )
         .join('\n       ')}
     END $$`,
  ];
}
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
    // Concurrent DDL (and services' provisioning, which grants on these tables under the same lock: persistence's
    // provisionService) would collide in the catalogs; serialize them.
    await client.query(`SELECT ${schemaSetupLock('messaging')}`);
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
