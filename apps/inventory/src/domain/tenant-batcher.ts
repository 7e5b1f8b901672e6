export interface TenantBatcherOptions<I, O> {
  /** Settles a batch of one tenant's items in one go; answers one outcome per item, in order. */
  runBatch: (tenantId: string, items: I[]) => Promise<O[]>;
  /** Settles one item on its own: a batch of one, and every item of a batch that failed. */
  runOne: (tenantId: string, item: I) => Promise<O>;
  /** Items with the same key never share a batch (the later one waits for the next). */
  key: (item: I) => string;
  /** Most items per batch. */
  maxBatch: number;
  /** Most batches of one tenant running at once. */
  maxInFlight: number;
}

interface Waiting<I, O> {
  item: I;
  resolve: (outcome: O) => void;
  reject: (error: unknown) => void;
}

interface Lane<I, O> {
  waiting: Waiting<I, O>[];
  inFlight: number;
}

/**
 * Groups the items callers submit concurrently, per tenant, into batches: an item submitted while the tenant has
 * `maxInFlight` batches running waits and joins the next batch, so work is shared without a timer (a lone item
 * starts at once). A failed batch changed nothing (one transaction); its items are then settled one by one, so one
 * bad item fails only its own caller.
 */
export class TenantBatcher<I, O> {
  private readonly lanes = new Map<string, Lane<I, O>>();

  constructor(private readonly opts: TenantBatcherOptions<I, O>) {}

  submit(tenantId: string, item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      let lane = this.lanes.get(tenantId);
      if (!lane) {
        lane = { waiting: [], inFlight: 0 };
        this.lanes.set(tenantId, lane);
      }
      lane.waiting.push({ item, resolve, reject });
      this.pump(tenantId, lane);
    });
  }

  private pump(tenantId: string, lane: Lane<I, O>): void {
    while (lane.inFlight < this.opts.maxInFlight && lane.waiting.length > 0) {
      const batch = this.take(lane);
      lane.inFlight++;
      void this.settle(tenantId, batch).finally(() => {
        lane.inFlight--;
        if (lane.inFlight === 0 && lane.waiting.length === 0) this.lanes.delete(tenantId);
        else this.pump(tenantId, lane);
      });
    }
  }

  /** The oldest waiting items, at most one per key and `maxBatch` in all; the others keep their place. */
  private take(lane: Lane<I, O>): Waiting<I, O>[] {
    const batch: Waiting<I, O>[] = [];
    const keys = new Set<string>();
    const rest: Waiting<I, O>[] = [];
    for (const w of lane.waiting) {
      const key = this.opts.key(w.item);
      if (batch.length < this.opts.maxBatch && !keys.has(key)) {
        keys.add(key);
        batch.push(w);
      } else {
        rest.push(w);
      }
    }
    lane.waiting = rest;
    return batch;
  }

  private async settle(tenantId: string, batch: Waiting<I, O>[]): Promise<void> {
    if (batch.length > 1) {
      let outcomes: O[] | null = null;
      try {
        outcomes = await this.opts.runBatch(tenantId, batch.map((w) => w.item));
      } catch {
        // Rolled back as a whole: each item is retried alone below, where its own error (if any) reaches its caller.
      }
      if (outcomes) {
        batch.forEach((w, i) => w.resolve((outcomes as O[])[i]));
        return;
      }
    }
    await Promise.all(
      batch.map(async (w) => {
        try {
          w.resolve(await this.opts.runOne(tenantId, w.item));
        } catch (err) {
          w.reject(err);
        }
      }),
    );
  }
}
