import { baseConfigSchema, portSchema } from '@tessera/service-kit';
import type { z } from 'zod';

/** Catalog's environment, validated at start; a bad value fails the boot naming the variable. */
export const catalogConfigSchema = baseConfigSchema.extend({
  PORT: portSchema.default(3102),
});

export type CatalogConfig = z.infer<typeof catalogConfigSchema>;
