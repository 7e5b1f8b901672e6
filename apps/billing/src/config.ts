import { baseConfigSchema, portSchema } from '@tessera/service-kit';
import type { z } from 'zod';

/** Billing's environment, validated at start. The database URL is resolved by PersistenceModule
 * (BILLING_DATABASE_URL, else DATABASE_URL + DB_APP_PASSWORD); the transport by KAFKA_BROKERS. */
export const billingConfigSchema = baseConfigSchema.extend({
  PORT: portSchema.default(3106),
});

export type BillingConfig = z.infer<typeof billingConfigSchema>;
