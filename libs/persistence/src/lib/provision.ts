import { createHmac } from 'node:crypto';
import { Client, escapeLiteral } from 'pg';
import { assertSchemaName, ident, ownerRoleName, runtimeRoleName } from './service-names';

export interface ProvisionOptions {
  schema: string;
  /** Password of the runtime LOGIN role; set on every run, so changing it rotates the password. */
  password: string;
  /** Schemas shared with other parts (e.g. `messaging`) that the runtime role gets USAGE and DML on, if they exist. */
  extraSchemas?: string[];
}

const DML = 'SELECT, INSERT, UPDATE, DELETE';
// Serializes provisioning of all services: GRANT/REVOKE on shared objects (schema public) from concurrent
// sessions otherwise fail with "tuple concurrently updated".
const PROVISION_LOCK = `select pg_advisory_xact_lock(hashtext('tessera.persistence.provision'))`;

/**
 * `pg_advisory_xact_lock(...)` of the lock a shared schema's own setup (messaging's ensureMessagingSchema) holds
 * while it changes the schema's tables and policies; provisioning takes it before granting on them.
 */
export function schemaSetupLock(schema: string): string {
  return `pg_advisory_xact_lock(hashtextextended('tessera.${assertSchemaName(schema)}.schema', 0))`;
}

/** The advisory lock key a schema's migrations run under (see migrations.ts). */
export function migrateLockKey(schema: string): string {
  return `tessera.persistence.migrate.${schema}`;
}

interface RoleRow {
  rolsuper: boolean;
  rolbypassrls: boolean;
  rolcreatedb: boolean;
  rolcreaterole: boolean;
  rolreplication: boolean;
  rolcanlogin: boolean;
}

async function roleRow(c: Client, role: string): Promise<RoleRow | undefined> {
  const { rows } = await c.query<RoleRow>(
    `select rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolreplication, rolcanlogin from pg_roles where rolname = $1`,
    [role],
  );
  return rows[0];
}

const RESTRICTED = 'NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION';

function needsRestricting(r: RoleRow): boolean {
  return r.rolsuper || r.rolbypassrls || r.rolcreatedb || r.rolcreaterole || r.rolreplication;
}

async function ensureOwnerRole(c: Client, owner: string): Promise<void> {
  const existing = await roleRow(c, owner);
  if (!existing) {
    await c.query(`CREATE ROLE ${ident(owner)} NOLOGIN ${RESTRICTED}`);
  } else if (needsRestricting(existing) || existing.rolcanlogin) {
    await c.query(`ALTER ROLE ${ident(owner)} NOLOGIN ${RESTRICTED}`);
  }
  // A non-superuser admin (managed PostgreSQL) must be a member of the owner role to SET ROLE to it.
  const { rows } = await c.query<{ ok: boolean }>(
    `select (select rolsuper from pg_roles where rolname = current_user) or pg_has_role(current_user, $1, 'MEMBER') as ok`,
    [owner],
  );
  if (!rows[0].ok) await c.query(`GRANT ${ident(owner)} TO CURRENT_USER`);
}

async function ensureRuntimeRole(c: Client, runtime: string, schema: string, password: string): Promise<void> {
  const existing = await roleRow(c, runtime);
  const verb = existing ? 'ALTER' : 'CREATE';
  await c.query(`${verb} ROLE ${ident(runtime)} LOGIN ${RESTRICTED} PASSWORD ${escapeLiteral(password)}`);
  // Also set per role, so even a connection made without our startup options resolves to the service schema.
  await c.query(`ALTER ROLE ${ident(runtime)} SET search_path = ${ident(schema)}`);
}

async function grantDml(c: Client, schema: string, runtime: string, tableOwner: string): Promise<void> {
  const s = ident(schema);
  const r = ident(runtime);
  await c.query(`GRANT USAGE ON SCHEMA ${s} TO ${r}`);
  await c.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(tableOwner)} IN SCHEMA ${s} GRANT ${DML} ON TABLES TO ${r}`);
  await c.query(
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(tableOwner)} IN SCHEMA ${s} GRANT USAGE, SELECT ON SEQUENCES TO ${r}`,
  );
  await c.query(`GRANT ${DML} ON ALL TABLES IN SCHEMA ${s} TO ${r}`);
  await c.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${s} TO ${r}`);
}

/** Runs one statement and returns its rows; lets pg clients and TypeORM data sources share helpers. */
export type SqlExec = (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

export function pgExec(c: Client): SqlExec {
  return async (sql, params) => (await c.query(sql, params)).rows;
}

/** The runtime role must not rewrite migration history. */
export async function protectMigrationsTable(exec: SqlExec, schema: string): Promise<void> {
  const rows = await exec(`select to_regclass($1) is not null as present`, [`${ident(schema)}.migrations`]);
  if (!rows[0].present) return;
  const runtime = ident(runtimeRoleName(schema));
  await exec(`REVOKE ALL ON TABLE ${ident(schema)}.migrations FROM ${runtime}`);
  const seq = await exec(`select to_regclass($1) is not null as present`, [`${ident(schema)}.migrations_id_seq`]);
  if (seq[0].present) await exec(`REVOKE ALL ON SEQUENCE ${ident(schema)}.migrations_id_seq FROM ${runtime}`);
}

async function schemaOwner(c: Client, schema: string): Promise<string | undefined> {
  const { rows } = await c.query<{ owner: string }>(
    `select pg_get_userbyid(nspowner) as owner from pg_namespace where nspname = $1`,
    [schema],
  );
  return rows[0]?.owner;
}

/**
 * Creates or repairs a service's database identity, idempotently: schema `<schema>` owned by NOLOGIN role
 * `tessera_<schema>_owner`, and LOGIN role `tessera_<schema>` with DML only (current and future tables), no
 * superuser, no BYPASSRLS, no ownership, so FORCE ROW LEVEL SECURITY always applies to it.
 * `adminUrl` must be a superuser (or a role with CREATEROLE and CREATE on the database).
 */
export async function provisionService(adminUrl: string, opts: ProvisionOptions): Promise<void> {
  const schema = assertSchemaName(opts.schema);
  const extras = (opts.extraSchemas ?? []).map(assertSchemaName);
  if (!opts.password) throw new Error('provisionService: password is required for the runtime role');
  const owner = ownerRoleName(schema);
  const runtime = runtimeRoleName(schema);
  const c = new Client({ connectionString: adminUrl, application_name: 'tessera-provision' });
  await c.connect();
  try {
    await c.query('BEGIN');
    await c.query(PROVISION_LOCK);
    // Also wait for a migration of this schema in progress: its REVOKE on the migrations table and the GRANTs below
    // would otherwise update the same catalog row at once ("tuple concurrently updated").
    await c.query('select pg_advisory_xact_lock(hashtext($1))', [migrateLockKey(schema)]);
    await ensureOwnerRole(c, owner);
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)} AUTHORIZATION ${ident(owner)}`);
    await c.query(`ALTER SCHEMA ${ident(schema)} OWNER TO ${ident(owner)}`);
    await ensureRuntimeRole(c, runtime, schema, opts.password);
    await grantDml(c, schema, runtime, owner);
    await protectMigrationsTable(pgExec(c), schema);
    // PostgreSQL < 15 lets every role create objects in public; nobody should.
    await c.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
    for (const extra of extras) {
      // The extra schema's own setup (messaging's ensureMessagingSchema) holds this lock while it changes the schema's
      // tables and policies: granting on them at the same moment failed with "tuple concurrently updated".
      await c.query(`select ${schemaSetupLock(extra)}`);
      const extraOwner = await schemaOwner(c, extra);
      if (extraOwner) await grantDml(c, extra, runtime, extraOwner);
    }
    await c.query('COMMIT');
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    await c.end();
  }
}

/**
 * The password of a service's runtime role when it comes from DB_APP_PASSWORD: derived per role (HMAC-SHA256 of the
 * role name, keyed by it), so a service that leaks its connection string gives away its own role only, not the
 * password behind every other service's. The migrations CLI sets it, a service derives its URL with it
 * (resolveRuntimeDatabaseUrl), and `npm start` does the same (tools/launcher/start.js).
 */
export function runtimeRolePassword(appPassword: string, schema: string): string {
  return createHmac('sha256', appPassword).update(runtimeRoleName(schema)).digest('base64url');
}

/** The service's runtime URL: the admin URL with user `tessera_<schema>` and the runtime password. */
export function runtimeDatabaseUrl(adminUrl: string, schema: string, password: string): string {
  const url = new URL(adminUrl);
  url.username = encodeURIComponent(runtimeRoleName(schema));
  url.password = encodeURIComponent(password);
  return url.toString();
}
