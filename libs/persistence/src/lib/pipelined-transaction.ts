import { isUuid } from '@tessera/contracts';
import type { PoolClient } from 'pg';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';

/** Isolation levels PostgreSQL implements (READ UNCOMMITTED behaves as READ COMMITTED there). */
export type IsolationLevel = 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';
const ISOLATION_LEVELS: readonly string[] = ['READ COMMITTED', 'REPEATABLE READ', 'SERIALIZABLE'];

export class InvalidTenantIdError extends Error {
  constructor(value: unknown) {
    super(`tenant id must be a UUID, got ${JSON.stringify(value)}`);
    this.name = 'InvalidTenantIdError';
  }
}

// Defined with the contracts (event payloads are checked with it too); re-exported where services have always found it.
export { isUuid };

export interface BeginOptions {
  isolation?: IsolationLevel;
  /** Set as `app.tenant_id` for this transaction only (`set_config(..., true)`, i.e. SET LOCAL), for RLS. */
  tenantId?: string;
  /**
   * Other settings for this transaction only, sent with BEGIN like the tenant (e.g. the outbox relay's
   * `tessera.outbox_relay`). Names and values are fixed identifiers of the code, checked, never request data.
   */
  settings?: Record<string, string>;
}

const SETTING_NAME = /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/;
const SETTING_VALUE = /^[A-Za-z0-9_.:-]*$/;

/**
 * Statements sent on a transaction's connection without waiting for their answer, per query runner. Each round
 * trip to PostgreSQL costs both processes a wake-up, which on small machines costs more than most statements: in
 * pipeline mode (node-postgres `pipeline: true`, set on every service pool) a statement whose result nobody needs
 * yet (BEGIN, a tenant setting, an outbox insert) goes out at once and the next one follows it on the wire. They
 * are awaited before the transaction ends, so an error in one of them still fails the transaction.
 */
const unsettled = new WeakMap<QueryRunner, Promise<unknown>[]>();

/**
 * A statement sent on a transaction's runner after the work the transaction ran had settled: a branch the work
 * started and did not wait for. It would have gone out after COMMIT or ROLLBACK, in autocommit and with no tenant
 * set, so it is refused instead.
 */
export class TransactionEndedError extends Error {
  constructor() {
    super('a statement was sent after the work of its transaction had ended (something it started was not awaited)');
    this.name = 'TransactionEndedError';
  }
}

const sealed = new WeakSet<QueryRunner>();

/** From now on `runner` refuses statements (TypeORM's and connectionOf's); COMMIT and ROLLBACK go to the connection. */
function seal(runner: QueryRunner): void {
  sealed.add(runner);
  (runner as { query: QueryRunner['query'] }).query = () => Promise.reject(new TransactionEndedError());
}

/** Throws TransactionEndedError when the transaction `runner` belongs to has ended its work. */
export function assertNotSealed(runner: QueryRunner): void {
  if (sealed.has(runner)) throw new TransactionEndedError();
}

function isPipelined(client: PoolClient): boolean {
  return (client as PoolClient & { pipeline?: boolean }).pipeline === true;
}

/**
 * Sends `statement` (already issued on the transaction's connection) without waiting: on a pipelined connection it
 * is tracked and awaited before COMMIT; otherwise it is simply awaited here.
 */
export async function sendWithoutWaiting(manager: EntityManager, client: PoolClient, statement: Promise<unknown>): Promise<void> {
  const runner = manager.queryRunner;
  if (!runner || !isPipelined(client)) {
    await statement;
    return;
  }
  // The rejection is observed when the transaction ends; until then it must not count as unhandled.
  statement.catch(() => undefined);
  const list = unsettled.get(runner);
  if (list) list.push(statement);
  else unsettled.set(runner, [statement]);
}

/**
 * Opens a transaction on `runner`, with its isolation level and tenant, in one round trip (one simple-protocol
 * message) that on a pipelined connection is not even waited for: the caller's first statement follows it on the
 * wire. TypeORM's own `startTransaction` would send BEGIN, then SET TRANSACTION, each awaited, and then the tenant
 * as a third; the runner is marked as in a transaction as `startTransaction` does (its BeforeTransactionStart /
 * AfterTransactionStart subscriber events are not fired: Tessera has none), so TypeORM's commit, rollback and
 * nested savepoints work unchanged.
 */
export async function beginTransaction(runner: QueryRunner, opts: BeginOptions = {}): Promise<void> {
  if (runner.isTransactionActive) throw new Error('beginTransaction: the query runner is already in a transaction');
  let text = 'START TRANSACTION';
  if (opts.isolation !== undefined) {
    if (!ISOLATION_LEVELS.includes(opts.isolation)) throw new Error(`unknown isolation level ${JSON.stringify(opts.isolation)}`);
    text += ` ISOLATION LEVEL ${opts.isolation}`;
  }
  if (opts.tenantId !== undefined) {
    // Checked as a UUID, so it can be written into the text: a parameter would need the extended protocol,
    // which takes one statement per message.
    if (!isUuid(opts.tenantId)) throw new InvalidTenantIdError(opts.tenantId);
    text += `; SELECT set_config('app.tenant_id', '${opts.tenantId}', true)`;
  }
  for (const [name, value] of Object.entries(opts.settings ?? {})) {
    if (!SETTING_NAME.test(name) || !SETTING_VALUE.test(value)) throw new Error(`beginTransaction: refused setting ${JSON.stringify(name)}`);
    text += `; SELECT set_config('${name}', '${value}', true)`;
  }
  const client = (await runner.connect()) as PoolClient;
  const sent = client.query(text);
  const state = runner as unknown as { isTransactionActive: boolean; transactionDepth: number };
  state.isTransactionActive = true;
  state.transactionDepth = 1;
  try {
    await sendWithoutWaiting(runner.manager, client, sent);
  } catch (err) {
    state.isTransactionActive = false;
    state.transactionDepth = 0;
    throw err;
  }
}

/** The first error among the statements still in flight on `runner` (waiting for all of them), if any. */
async function pendingFailure(runner: QueryRunner): Promise<{ error: unknown } | null> {
  const list = unsettled.get(runner);
  if (!list) return null;
  for (const result of await Promise.allSettled(list)) if (result.status === 'rejected') return { error: result.reason };
  return null;
}

/**
 * A COMMIT refused because a statement of the transaction had failed and the code that awaited it caught the error
 * and went on. PostgreSQL answers such a COMMIT with a rollback and no error, so without this check the work would
 * report success having written nothing.
 */
export class TransactionAbortedError extends Error {
  constructor() {
    super('the transaction was aborted by a failed statement whose error was caught; nothing was committed');
    this.name = 'TransactionAbortedError';
  }
}

/**
 * COMMIT, sent right behind the statements still in flight. If one of them failed, PostgreSQL has answered the
 * COMMIT with a rollback (an aborted transaction cannot commit), and that statement's error is thrown. If an awaited
 * statement had failed (its error caught by the work), PostgreSQL answers the COMMIT with a rollback and no error:
 * TransactionAbortedError.
 */
export async function commitTransaction(runner: QueryRunner): Promise<void> {
  // The work settled while a branch it did not await is inside a nested transaction: nothing of it may commit.
  if (sealed.has(runner) && (runner as unknown as { transactionDepth: number }).transactionDepth !== 1) throw new TransactionEndedError();
  const list = unsettled.get(runner);
  unsettled.delete(runner);
  const commit = commitChecked(runner);
  commit.catch(() => undefined);
  for (const result of await Promise.allSettled(list ?? [])) {
    // A statement sent without waiting is the one that failed: its own error says more than the rollback, unless it
    // only says that the transaction was aborted already (25P02).
    if (result.status === 'rejected' && (result.reason as { code?: string }).code !== '25P02') {
      await commit.catch(() => undefined);
      throw result.reason;
    }
  }
  await commit;
}

/**
 * TypeORM's commit, but reading the COMMIT's answer, which TypeORM drops: the command tag is `ROLLBACK` when the
 * transaction had failed. The runner's state and the commit events (the outbox relay listens for
 * AfterTransactionCommit) are kept as TypeORM keeps them; nested transactions (savepoints) go through TypeORM.
 */
async function commitChecked(runner: QueryRunner): Promise<void> {
  const state = runner as unknown as {
    isTransactionActive: boolean;
    transactionDepth: number;
    broadcaster: { broadcast(event: 'BeforeTransactionCommit' | 'AfterTransactionCommit'): Promise<void> };
  };
  if (state.transactionDepth !== 1) return runner.commitTransaction();
  const client = (await runner.connect()) as PoolClient;
  await state.broadcaster.broadcast('BeforeTransactionCommit');
  const answer = await client.query('COMMIT');
  state.isTransactionActive = false;
  state.transactionDepth = 0;
  if (answer.command === 'ROLLBACK') throw new TransactionAbortedError();
  await state.broadcaster.broadcast('AfterTransactionCommit');
}

/** Waits for what is in flight (errors ignored: the transaction is being abandoned), then rolls back if still open. */
export async function rollbackTransaction(runner: QueryRunner): Promise<void> {
  const list = unsettled.get(runner);
  unsettled.delete(runner);
  if (list) await Promise.allSettled(list);
  if (!runner.isTransactionActive) return;
  const state = runner as unknown as { isTransactionActive: boolean; transactionDepth: number };
  if (state.transactionDepth !== 1 && !sealed.has(runner)) return runner.rollbackTransaction();
  // On the connection itself, the whole transaction: a sealed runner refuses TypeORM's statements, and a savepoint a
  // branch left open (depth 2) must not survive it, or the connection would go back to the pool inside it.
  const client = (await runner.connect()) as PoolClient;
  await client.query('ROLLBACK');
  state.isTransactionActive = false;
  state.transactionDepth = 0;
}

/**
 * `fn` in a transaction of its own, opened with `beginTransaction` and committed with `commitTransaction`; rolled
 * back if anything throws. Once `fn` has settled the runner is sealed (TransactionEndedError). When a statement fails because an earlier pipelined one already aborted the transaction,
 * the earlier (real) error is the one thrown.
 */
export async function inTransaction<T>(dataSource: DataSource, fn: (manager: EntityManager) => Promise<T>, opts: BeginOptions = {}): Promise<T> {
  const runner = dataSource.createQueryRunner();
  try {
    await beginTransaction(runner, opts);
    let result: T;
    try {
      result = await fn(runner.manager);
    } catch (err) {
      seal(runner);
      throw (await pendingFailure(runner))?.error ?? err;
    }
    seal(runner);
    await commitTransaction(runner);
    return result;
  } catch (err) {
    await rollbackTransaction(runner).catch(() => undefined);
    throw err;
  } finally {
    await runner.release();
  }
}
