// Inventory service entry point: `node -r @swc-node/register apps/inventory/src/main.ts` (PORT, default 3103).
import { loadConfig } from '@tessera/service-kit';
import { inventoryConfigSchema } from './config';
import { startInventory } from './inventory-app';

startInventory({ config: loadConfig(inventoryConfigSchema) }).catch((error: unknown) => {
  process.stderr.write(`inventory failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
