import { Client } from 'pg';

/** `fn` on a connection of its own to `url`, closed afterwards. */
export async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** One statement's totals since the last reset (pg_stat_statements; times in ms). */
export interface StatementCost {
  role: string;
  calls: number;
  /** How many calls were planned (a prepared statement on its generic plan is not). */
  plans: number;
  planMs: number;
  execMs: number;
  /** Whitespace collapsed, cut to 160 characters. */
  query: string;
}

/** Starts counting afresh. PostgreSQL must preload pg_stat_statements (EMBEDDED_PG_STAT_STATEMENTS=on). */
export async function resetStatements(url: string): Promise<void> {
  await withClient(url, async (c) => {
    await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await c.query('SELECT pg_stat_statements_reset()');
  });
}

/** The `limit` statements that took PostgreSQL most planning + execution time since the reset, in `url`'s database only when `thisDatabase`. */
export async function costliestStatements(url: string, limit: number, { thisDatabase = false } = {}): Promise<StatementCost[]> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ role: string; calls: string; plans: string; plan: number; exec: number; query: string }>(
      `SELECT pg_get_userbyid(userid) AS role, calls, plans, total_plan_time AS plan, total_exec_time AS exec, query
         FROM pg_stat_statements
        WHERE NOT $2 OR dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        ORDER BY total_plan_time + total_exec_time DESC LIMIT $1`,
      [limit, thisDatabase],
    );
    return rows.map((r) => ({
      role: r.role,
      calls: Number(r.calls),
      plans: Number(r.plans),
      planMs: r.plan,
      execMs: r.exec,
      query: r.query.replace(/\s+/g, ' ').slice(0, 160),
    }));
  });
}

/** Work counters of the whole cluster that the machine's other load does not skew: transactions committed, WAL bytes. */
export interface DatabaseWork {
  commits: number;
  walBytes: number;
}

export async function databaseWork(url: string): Promise<DatabaseWork> {
  return withClient(url, async (c) => {
    // Backends report their commit counts at most once a second.
    await new Promise((r) => setTimeout(r, 1100));
    const { rows } = await c.query<{ commits: string; wal: string }>(
      `SELECT (SELECT sum(xact_commit) FROM pg_stat_database) AS commits, (SELECT wal_bytes FROM pg_stat_wal) AS wal`,
    );
    return { commits: Number(rows[0].commits), walBytes: Number(rows[0].wal) };
  });
}
