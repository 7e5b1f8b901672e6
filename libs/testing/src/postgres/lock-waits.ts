/** Runs SQL as the superuser and answers its rows: a pg Pool's or Client's query, adapted. */
export type AdminQuery = (sql: string, params: unknown[]) => Promise<{ n: number | string }[]>;

/**
 * How many backends of the current database wait on a lock, those whose statement contains `statementLike` (an
 * ILIKE pattern) when one is given. Interleaving tests use it to know that a transaction has reached the statement a
 * lock they hold keeps waiting, before they change what it is about to read.
 */
export async function lockWaiters(query: AdminQuery, statementLike?: string): Promise<number> {
  const rows = await query(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock' AND ($1::text IS NULL OR query ILIKE $1)`,
    [statementLike ?? null],
  );
  return Number(rows[0].n);
}

/** Polls until `lockWaiters` reaches `count`; false when `timeoutMs` passes first. */
export async function untilLockWaiters(query: AdminQuery, count: number, statementLike?: string, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while ((await lockWaiters(query, statementLike)) < count) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}
