import { createHash } from 'node:crypto';
import type { PoolClient, QueryResult, QueryResultRow } from 'pg';
import type { EntityManager } from 'typeorm';
import { assertNotSealed, sendWithoutWaiting } from './pipelined-transaction';

/** A node-postgres client or pool. */
export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(config: { name: string; text: string; values: unknown[] }): Promise<QueryResult<R>>;
}

/**
 * A fixed SQL text run as a named prepared statement. PostgreSQL parses and plans an unnamed parameterized statement
 * on every call; a named one is parsed once per connection (node-postgres remembers which connections know it), and
 * the call skips TypeORM's query wrapper. The name derives from the text, so two texts never share a name
 * (node-postgres refuses that) and one text used in two places shares one.
 *
 * Only for hot statements whose text never varies (values go in parameters), and not behind a connection pooler in
 * transaction mode (a later statement may land on a server connection that never saw the PREPARE): Tessera's
 * services connect to PostgreSQL directly.
 */
export class PreparedQuery<R extends QueryResultRow = QueryResultRow> {
  readonly name: string;

  constructor(readonly text: string) {
    this.name = `tessera_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
  }

  /** Runs in the transaction `manager` belongs to (a manager from `transaction(...)` or a query runner). */
  async rows(manager: EntityManager, values: unknown[]): Promise<R[]> {
    return (await this.run(await connectionOf(manager), values)).rows;
  }

  /** Runs on a client or pool of one's own (outside TypeORM). */
  run<T extends QueryResultRow = R>(client: Queryable, values: unknown[]): Promise<QueryResult<T>> {
    return client.query<T>({ name: this.name, text: this.text, values });
  }
}

/** The node-postgres connection under a transaction's entity manager. */
export async function connectionOf(manager: EntityManager): Promise<PoolClient> {
  const runner = manager.queryRunner;
  if (!runner || !runner.isTransactionActive) throw new Error('PreparedQuery: the entity manager is not in a transaction');
  assertNotSealed(runner);
  return (await runner.connect()) as PoolClient;
}

const byText = new Map<string, PreparedQuery>();

/**
 * `text` run as a named prepared statement in the manager's transaction, for hot statements written inline. Texts
 * must come from a small fixed set (variable parts go in parameters): each is kept for the life of the process and
 * of each connection. Outside a transaction, an ordinary query.
 */
export async function preparedRows<R extends QueryResultRow = Record<string, unknown>>(
  manager: EntityManager,
  text: string,
  values: unknown[],
): Promise<R[]> {
  if (!manager.queryRunner?.isTransactionActive) return manager.query(text, values);
  return (await preparedFor(text).run<R>(await connectionOf(manager), values)).rows;
}

/**
 * As `preparedRows`, for a write whose answer the caller does not need: on a pipelined connection it goes out at once
 * and is awaited before the transaction ends (`sendWithoutWaiting`), so its error still fails the transaction.
 */
export async function preparedSend(manager: EntityManager, text: string, values: unknown[]): Promise<void> {
  if (!manager.queryRunner?.isTransactionActive) {
    await manager.query(text, values);
    return;
  }
  const client = await connectionOf(manager);
  await sendWithoutWaiting(manager, client, preparedFor(text).run(client, values));
}

function preparedFor(text: string): PreparedQuery {
  let statement = byText.get(text);
  if (!statement) {
    statement = new PreparedQuery(text);
    byText.set(text, statement);
  }
  return statement;
}
