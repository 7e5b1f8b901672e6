import { Client } from 'pg';

/**
 * The PostgreSQL extensions the catalog schema needs, installed by the admin before the migrations run.
 *
 * Migrations run as `tessera_catalog_owner`, which is no superuser and has no CREATE on the database, so it cannot
 * create an extension itself (even a trusted one such as pg_trgm). The admin installs it once, in `public`, where
 * every role may use it; the schema migration then only checks that it is there.
 */
export const CATALOG_EXTENSIONS = ['pg_trgm'] as const;

/** Idempotent: `CREATE EXTENSION IF NOT EXISTS ... WITH SCHEMA public` with the admin (superuser) URL. */
export async function installCatalogExtensions(adminUrl: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl, application_name: 'tessera-catalog-extensions' });
  await client.connect();
  try {
    // Two services migrating at once could both try to create it; the second would fail on the catalog row.
    await client.query('BEGIN');
    await client.query(`select pg_advisory_xact_lock(hashtext('tessera.catalog.extensions'))`);
    for (const extension of CATALOG_EXTENSIONS) {
      await client.query(`CREATE EXTENSION IF NOT EXISTS ${extension} WITH SCHEMA public`);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}
