// Orders service entry point: `node -r @swc-node/register apps/orders/src/main.ts` (PORT, default 3104).
import { loadConfig, runMain } from '@tessera/service-kit';
import { ordersConfigSchema } from './config';
import { startOrders } from './orders-app';

runMain('orders', () => startOrders({ config: loadConfig(ordersConfigSchema) }));
