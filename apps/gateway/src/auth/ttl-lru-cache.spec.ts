import { TtlLruCache } from './ttl-lru-cache';

describe('TtlLruCache', () => {
  it('expires entries after the TTL', () => {
    let now = 0;
    const cache = new TtlLruCache<string>(10, 1000, () => now);
    cache.set('a', 'A');
    now = 999;
    expect(cache.get('a')).toBe('A');
    now = 1000;
    expect(cache.get('a')).toBeUndefined();
  });

  it('evicts the least recently used entry when full', () => {
    const cache = new TtlLruCache<number>(2, 60_000);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1);
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.size).toBe(2);
  });

  it('keeps an entry no longer than its own lifetime when shorter than the TTL, and never longer than the TTL', () => {
    let now = 0;
    const cache = new TtlLruCache<string>(10, 1000, () => now);
    cache.set('short', 'S', 300);
    cache.set('long', 'L', 5000);
    cache.set('gone', 'G', 0);
    expect(cache.get('gone')).toBeUndefined();
    now = 299;
    expect(cache.get('short')).toBe('S');
    now = 300;
    expect(cache.get('short')).toBeUndefined();
    now = 999;
    expect(cache.get('long')).toBe('L');
    now = 1000;
    expect(cache.get('long')).toBeUndefined();
  });
});
