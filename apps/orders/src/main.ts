// Orders service entry point: `node -r @swc-node/register apps/orders/src/main.ts` (PORT, default 3104).
import { loadConfig } from '@tessera/service-kit';
import { ordersConfigSchema } from './config';
import { startOrders } from './orders-app';

startOrders({ config: loadConfig(ordersConfigSchema) }).catch((error: unknown) => {
  process.stderr.write(`orders failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
