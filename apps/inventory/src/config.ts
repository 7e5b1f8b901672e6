import { baseConfigSchema, millisecondsSchema, portSchema } from '@tessera/service-kit';
import { z } from 'zod';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');

/** Inventory's environment, validated at start; a bad value fails the boot naming the variable. */
export const inventoryConfigSchema = baseConfigSchema.extend({
  PORT: portSchema.default(3103),
  /** How often the sweeper expires due reservations. */
  INVENTORY_EXPIRY_SWEEP_MS: millisecondsSchema.default(5000),
  /** Hot-SKU path: requests for hot SKUs go through the queue. */
  INVENTORY_HOT_PATH: flag(true),
  /** Detect hot SKUs from lock waits longer than INVENTORY_HOT_LOCK_TIMEOUT_MS. */
  INVENTORY_HOT_DETECT: flag(true),
  INVENTORY_HOT_LOCK_TIMEOUT_MS: millisecondsSchema.default(200),
  INVENTORY_HOT_BATCH_SIZE: positiveInt(100),
});

export type InventoryConfig = z.infer<typeof inventoryConfigSchema>;

export const INVENTORY_CONFIG = Symbol('INVENTORY_CONFIG');
