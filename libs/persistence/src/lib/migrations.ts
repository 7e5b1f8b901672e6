import type { DataSource } from 'typeorm';
import { buildServiceDataSource, type EntityDefinition, type MigrationClass } from './data-source';
import { migrateLockKey, protectMigrationsTable, provisionService, type SqlExec } from './provision';
import { ident, ownerRoleName } from './service-names';

export interface MigrationRunOptions {
  /** Admin (superuser) URL: provisioning needs it; migrations then drop to the owner role. */
  adminUrl: string;
  schema: string;
  migrations: MigrationClass[];
  entities?: EntityDefinition[];
  /** Runtime role password (provisioning sets it). */
  password: string;
  extraSchemas?: string[];
}

export type MigrationRevertOptions = Omit<MigrationRunOptions, 'password' | 'extraSchemas'>;

const exec =
  (ds: DataSource): SqlExec =>
  (sql, params) =>
    ds.query(sql, params);

// One connection, running as tessera_<schema>_owner for its whole life, so every table a migration creates is
// owned by the owner role and never by the runtime role (an owner could switch FORCE RLS off).
async function withOwnerDataSource<T>(opts: MigrationRevertOptions, fn: (ds: DataSource) => Promise<T>): Promise<T> {
  const ds = buildServiceDataSource({
    url: opts.adminUrl,
    schema: opts.schema,
    entities: opts.entities ?? [],
    migrations: opts.migrations,
    poolSize: 1,
    applicationName: `tessera-${opts.schema}-migrate`,
    sessionRole: ownerRoleName(opts.schema),
  });
  await ds.initialize();
  try {
    // Two deployers migrating the same schema at once would both see the same migrations pending. The pool has
    // one connection, so this session lock holds until destroy() closes it.
    await ds.query(`select pg_advisory_lock(hashtext($1))`, [migrateLockKey(opts.schema)]);
    return await fn(ds);
  } finally {
    await ds.destroy();
  }
}

/** Provisions the service's roles and schema, then applies pending migrations in one transaction. Returns the names applied. */
export async function runMigrations(opts: MigrationRunOptions): Promise<string[]> {
  await provisionService(opts.adminUrl, {
    schema: opts.schema,
    password: opts.password,
    extraSchemas: opts.extraSchemas,
  });
  return withOwnerDataSource(opts, async (ds) => {
    const applied = await ds.runMigrations({ transaction: 'all' });
    await protectMigrationsTable(exec(ds), opts.schema);
    return applied.map((m) => m.name);
  });
}

/** Reverts the most recently applied migration. Returns its name, or null when none was applied. */
export async function revertLastMigration(opts: MigrationRevertOptions): Promise<string | null> {
  return withOwnerDataSource(opts, async (ds) => {
    const table = `${ident(opts.schema)}.migrations`;
    const [{ present }] = await exec(ds)(`select to_regclass($1) is not null as present`, [table]);
    if (!present) return null;
    // TypeORM reverts the migration with the highest id; report the same one.
    const last = await exec(ds)(`select name from ${table} order by id desc limit 1`);
    if (last.length === 0) return null;
    await ds.undoLastMigration({ transaction: 'all' });
    return String(last[0].name);
  });
}
