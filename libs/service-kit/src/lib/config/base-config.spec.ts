import { baseConfigSchema, millisecondsSchema } from './base-config';
import { ConfigurationError, loadConfig } from './load-config';

const SECRET = 's'.repeat(32);

describe('millisecondsSchema', () => {
  it('takes up to 2147483647 ms, the longest timer Node keeps (a longer one fires after 1 ms)', () => {
    expect(millisecondsSchema.parse('2147483647')).toBe(2_147_483_647);
    expect(millisecondsSchema.safeParse('2147483648').success).toBe(false);
  });

  it('refuses SHUTDOWN_TIMEOUT_MS beyond it, naming the variable', () => {
    const load = (value: string) => loadConfig(baseConfigSchema, { INTERNAL_TOKEN_SECRET: SECRET, SHUTDOWN_TIMEOUT_MS: value });
    expect(load('2147483647').SHUTDOWN_TIMEOUT_MS).toBe(2_147_483_647);
    expect(() => load('3000000000')).toThrow(ConfigurationError);
    expect(() => load('3000000000')).toThrow(/SHUTDOWN_TIMEOUT_MS: .*2147483647/);
  });
});
