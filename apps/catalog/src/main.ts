// Catalog service entry point: `node -r @swc-node/register apps/catalog/src/main.ts` (PORT, default 3102).
import { loadConfig } from '@tessera/service-kit';
import { startCatalog } from './catalog-app';
import { catalogConfigSchema } from './config';

startCatalog({ config: loadConfig(catalogConfigSchema) }).catch((error: unknown) => {
  process.stderr.write(`catalog failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
