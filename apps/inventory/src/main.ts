// Inventory service entry point: `node -r @swc-node/register apps/inventory/src/main.ts` (PORT, default 3103).
import { loadConfig, runMain } from '@tessera/service-kit';
import { inventoryConfigSchema } from './config';
import { startInventory } from './inventory-app';

runMain('inventory', () => startInventory({ config: loadConfig(inventoryConfigSchema) }));
