import { isUuid } from '@tessera/contracts';
import { timeOrderedUuid } from './time-ordered-uuid';

describe('timeOrderedUuid', () => {
  it('is a version 7 UUID whose first 48 bits are the Unix milliseconds given', () => {
    const now = Date.UTC(2026, 11, 8, 2, 15, 0, 123);
    const id = timeOrderedUuid(now);
    expect(isUuid(id)).toBe(true);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(now);
    // The largest time 48 bits hold, and the epoch.
    expect(timeOrderedUuid(2 ** 48 - 1).startsWith('ffffffff-ffff-7')).toBe(true);
    expect(timeOrderedUuid(0).startsWith('00000000-0000-7')).toBe(true);
  });

  it('sorts by time across milliseconds (as PostgreSQL orders uuids, bytewise) and never repeats', () => {
    const t = Date.now();
    const ids = Array.from({ length: 3000 }, (_, i) => timeOrderedUuid(t + Math.floor(i / 1000)));
    expect(new Set(ids).size).toBe(ids.length);
    for (const [a, b] of [[ids[999], ids[1000]], [ids[1999], ids[2000]]]) expect(a < b).toBe(true);
    // Within one millisecond the order is random: the random part is not a counter.
    const sameMs = ids.slice(0, 1000);
    expect([...sameMs].sort()).not.toEqual(sameMs);
  });
});
