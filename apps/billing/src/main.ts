// Billing service entry point: `node -r @swc-node/register apps/billing/src/main.ts` (PORT, default 3106).
import { loadConfig, runMain } from '@tessera/service-kit';
import { startBilling } from './billing-app';
import { billingConfigSchema } from './config';

runMain('billing', () => startBilling({ config: loadConfig(billingConfigSchema) }));
