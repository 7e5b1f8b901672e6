import { PreparedQuery } from '@tessera/persistence';
import type { QueryResultRow } from 'pg';
import type { EntityManager } from 'typeorm';

const statements = new Map<string, PreparedQuery>();

/**
 * Runs a hot statement of the reservation path as a named prepared statement (parsed and planned once per
 * connection, see PreparedQuery). Callers pass texts from a small fixed set (their variable parts are parameters),
 * so the cache and each connection's prepared statements stay bounded.
 */
export async function preparedRows<R extends QueryResultRow>(manager: EntityManager, text: string, values: unknown[]): Promise<R[]> {
  let statement = statements.get(text);
  if (!statement) {
    statement = new PreparedQuery(text);
    statements.set(text, statement);
  }
  return (await statement.rows(manager, values)) as R[];
}
