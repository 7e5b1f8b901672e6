// Catalog service entry point: `node -r @swc-node/register apps/catalog/src/main.ts` (PORT, default 3102).
import { loadConfig, runMain } from '@tessera/service-kit';
import { startCatalog } from './catalog-app';
import { catalogConfigSchema } from './config';

runMain('catalog', () => startCatalog({ config: loadConfig(catalogConfigSchema) }));
