import { loadConfig } from '@tessera/service-kit';
import { inventoryConfigSchema } from './config';

describe('inventoryConfigSchema', () => {
  const secret = 'x'.repeat(32);

  it('refuses a millisecond variable beyond 2147483647 (Node would fire its timer after 1 ms), naming it', () => {
    for (const name of ['INVENTORY_EXPIRY_SWEEP_MS', 'INVENTORY_HOT_LOCK_TIMEOUT_MS', 'SHUTDOWN_TIMEOUT_MS']) {
      expect(loadConfig(inventoryConfigSchema, { INTERNAL_TOKEN_SECRET: secret, [name]: '2147483647' })[name as 'SHUTDOWN_TIMEOUT_MS']).toBe(2_147_483_647);
      expect(() => loadConfig(inventoryConfigSchema, { INTERNAL_TOKEN_SECRET: secret, [name]: '3000000000' })).toThrow(new RegExp(`${name}: .*2147483647`));
    }
  });
});
