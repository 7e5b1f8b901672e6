import { createHash } from 'node:crypto';
import type { PoolClient, QueryResult, QueryResultRow } from 'pg';
import type { EntityManager } from 'typeorm';

/**
 * A fixed SQL text run as a named prepared statement. PostgreSQL parses and plans an unnamed parameterized statement
 * on every call; a named one is parsed once per connection (node-postgres remembers which connections know it), which
 * more than halved the server CPU of the inbox insert here. The name derives from the text, so two texts never
 * share a name (node-postgres refuses that), and the same text in two places shares one.
 *
 * Not for connection poolers in transaction mode (PgBouncer), where a later statement may land on a server
 * connection that never saw the PREPARE; Tessera's services connect to PostgreSQL directly.
 */
export class PreparedStatement {
  readonly name: string;

  constructor(readonly text: string) {
    this.name = `tessera_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
  }

  run<R extends QueryResultRow = QueryResultRow>(client: Queryable, values: unknown[]): Promise<QueryResult<R>> {
    return client.query<R>({ name: this.name, text: this.text, values });
  }
}

/** A node-postgres client or pool. */
export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(config: { name: string; text: string; values: unknown[] }): Promise<QueryResult<R>>;
}

/**
 * The node-postgres connection under a TypeORM transaction's entity manager, so a statement can be prepared on the
 * connection the transaction runs on. Only for managers bound to a query runner (inside `transaction(...)`).
 */
export async function connectionOf(manager: EntityManager): Promise<PoolClient> {
  const runner = manager.queryRunner;
  if (!runner || !runner.isTransactionActive) throw new Error('connectionOf: the entity manager is not in a transaction');
  return (await runner.connect()) as PoolClient;
}
