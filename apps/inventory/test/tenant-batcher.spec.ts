import { TenantBatcher } from '../src/domain/tenant-batcher';

/** A batcher over plain strings that records every batch and single run, with a gate to hold batches open. */
function recording(opts: { maxBatch?: number; maxInFlight?: number; failBatchWith?: string; failOne?: string } = {}) {
  const batches: string[][] = [];
  const singles: string[] = [];
  let release: () => void = () => undefined;
  let gate = new Promise<void>((r) => (release = r));
  const batcher = new TenantBatcher<string, string>({
    runBatch: async (tenant, items) => {
      batches.push(items);
      await gate;
      if (opts.failBatchWith && items.includes(opts.failBatchWith)) throw new Error('batch failed');
      return items.map((i) => `${tenant}:${i}`);
    },
    runOne: async (tenant, item) => {
      singles.push(item);
      await gate;
      if (item === opts.failOne) throw new Error(`${item} failed`);
      return `${tenant}:${item}:one`;
    },
    key: (item) => item.split('#')[0],
    maxBatch: opts.maxBatch ?? 10,
    maxInFlight: opts.maxInFlight ?? 1,
  });
  return {
    batcher,
    batches,
    singles,
    open: () => {
      release();
      gate = Promise.resolve();
    },
  };
}

describe('TenantBatcher', () => {
  it('starts a lone item at once and batches what arrives meanwhile, in order, per tenant', async () => {
    const r = recording();
    const first = r.batcher.submit('t1', 'a');
    const rest = ['b', 'c', 'd'].map((i) => r.batcher.submit('t1', i));
    const other = r.batcher.submit('t2', 'x');
    r.open();
    expect(await Promise.all([first, ...rest, other])).toEqual(['t1:a:one', 't1:b', 't1:c', 't1:d', 't2:x:one']);
    expect(r.singles).toEqual(['a', 'x']);
    expect(r.batches).toEqual([['b', 'c', 'd']]);
  });

  it('keeps items with the same key apart and caps the batch size', async () => {
    const r = recording({ maxBatch: 2 });
    const all = [r.batcher.submit('t', 'first'), ...['k#1', 'k#2', 'm', 'n'].map((i) => r.batcher.submit('t', i))];
    r.open();
    await Promise.all(all);
    expect(r.singles).toEqual(['first']);
    // 'k#2' shares its key with 'k#1', so it waits for the next batch, where it goes first.
    expect(r.batches).toEqual([
      ['k#1', 'm'],
      ['k#2', 'n'],
    ]);
  });

  it('settles the items of a failed batch one by one: only the failing one rejects', async () => {
    const r = recording({ failBatchWith: 'bad', failOne: 'bad' });
    const first = r.batcher.submit('t', 'first');
    const results = ['good', 'bad', 'fine'].map((i) => r.batcher.submit('t', i).catch((e: Error) => e.message));
    r.open();
    await first;
    expect(await Promise.all(results)).toEqual(['t:good:one', 'bad failed', 't:fine:one']);
    expect(r.batches).toEqual([['good', 'bad', 'fine']]);
    expect(r.singles).toEqual(['first', 'good', 'bad', 'fine']);
  });

  it('runs up to maxInFlight batches of one tenant at once', async () => {
    const r = recording({ maxInFlight: 2 });
    const all = ['a', 'b', 'c', 'd'].map((i) => r.batcher.submit('t', i));
    r.open();
    await Promise.all(all);
    expect(r.singles).toEqual(['a', 'b']);
    expect(r.batches).toEqual([['c', 'd']]);
  });
});
