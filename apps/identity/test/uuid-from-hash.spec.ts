import { createHash } from 'node:crypto';
import { uuidFromHash } from '../src/common/uuid-from-hash';

describe('uuidFromHash', () => {
  it('lays the first 128 bits of a hash out as a version 4 UUID, the same for the same hash', () => {
    const hex = createHash('sha256').update('a key').digest('hex');
    const id = uuidFromHash(hex);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(id.replace(/-/g, '').slice(0, 12)).toBe(hex.slice(0, 12));
    expect(uuidFromHash(hex)).toBe(id);
    expect(uuidFromHash('f'.repeat(32))).toBe('ffffffff-ffff-4fff-bfff-ffffffffffff');
  });

  it('refuses what is not 128 bits of hex', () => {
    expect(() => uuidFromHash('abc')).toThrow('at least 32 lower-case hex digits');
  });
});
