// `nx run catalog:migrate` / `catalog:migrate-revert`: installs the extensions the catalog needs (as the admin),
// provisions the catalog roles and schema, then applies or reverts migrations as the schema owner.
// Reads DATABASE_URL (admin) and DB_APP_PASSWORD.
import { migrationCli } from '@tessera/persistence';
import { CATALOG_ENTITIES, CATALOG_SCHEMA } from './entities';
import { CATALOG_MIGRATIONS } from './migrations';
import { installCatalogExtensions } from './migrations/extensions';

void migrationCli({
  schema: CATALOG_SCHEMA,
  migrations: CATALOG_MIGRATIONS,
  entities: CATALOG_ENTITIES,
  // The postgres event transport's log lives in the shared `messaging` schema.
  extraSchemas: ['messaging'],
  // Run by migrationCli once DATABASE_URL is checked, so a connection error here names it too.
  beforeRun: installCatalogExtensions,
});
