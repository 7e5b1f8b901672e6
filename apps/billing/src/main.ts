// Billing service entry point: `node -r @swc-node/register apps/billing/src/main.ts` (PORT, default 3106).
import { loadConfig } from '@tessera/service-kit';
import { startBilling } from './billing-app';
import { billingConfigSchema } from './config';

startBilling({ config: loadConfig(billingConfigSchema) }).catch((error: unknown) => {
  process.stderr.write(`billing failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
