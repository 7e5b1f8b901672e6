// `nx run catalog:migrate` / `catalog:migrate-revert`: installs the extensions the catalog needs (as the admin),
// provisions the catalog roles and schema, then applies or reverts migrations as the schema owner.
// Reads DATABASE_URL (admin) and DB_APP_PASSWORD.
import { migrationCli } from '@tessera/persistence';
import { CATALOG_ENTITIES, CATALOG_SCHEMA } from './entities';
import { CATALOG_MIGRATIONS } from './migrations';
import { installCatalogExtensions } from './migrations/extensions';

async function main(): Promise<void> {
  const adminUrl = process.env['DATABASE_URL'];
  if (process.argv[2] === 'run' && adminUrl) {
    try {
      await installCatalogExtensions(adminUrl);
    } catch (error) {
      process.stderr.write(`[migrate catalog] installing extensions failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
      return;
    }
  }
  await migrationCli({
    schema: CATALOG_SCHEMA,
    migrations: CATALOG_MIGRATIONS,
    entities: CATALOG_ENTITIES,
    // The postgres event transport's log lives in the shared `messaging` schema.
    extraSchemas: ['messaging'],
  });
}

void main();
