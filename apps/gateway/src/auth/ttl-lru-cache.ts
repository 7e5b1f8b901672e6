/**
 * A bounded cache with per-entry expiry (the cache's TTL, or a shorter one per entry). A Map keeps insertion
 * order, so re-inserting on read makes the first key the least recently used one, which is evicted when full.
 */
export class TtlLruCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.expiresAt <= this.now()) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Stores `value` for the cache's TTL or `ttlMs`, whichever is shorter; a non-positive lifetime stores nothing. */
  set(key: string, value: V, ttlMs = this.ttlMs): void {
    this.entries.delete(key);
    const lifetime = Math.min(ttlMs, this.ttlMs);
    if (!(lifetime > 0)) return;
    this.entries.set(key, { value, expiresAt: this.now() + lifetime });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
