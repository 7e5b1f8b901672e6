import { baseConfigSchema, portSchema } from '@tessera/service-kit';
import type { z } from 'zod';

/** Orders' environment, validated at start; a bad value fails the boot naming the variable. */
export const ordersConfigSchema = baseConfigSchema.extend({
  PORT: portSchema.default(3104),
});

export type OrdersConfig = z.infer<typeof ordersConfigSchema>;
