import type { DataSource, EntityManager, EntityTarget, ObjectLiteral, Repository } from 'typeorm';

/** Isolation levels PostgreSQL implements (READ UNCOMMITTED behaves as READ COMMITTED there). */
export type IsolationLevel = 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';

/** What tenant-scoped code receives: the transaction's manager and the tenant it is bound to. */
export interface TenantTx {
  readonly manager: EntityManager;
  readonly tenantId: string;
  /** A repository in this transaction; RLS limits it to `tenantId`. */
  repo<E extends ObjectLiteral>(target: EntityTarget<E>): Repository<E>;
}

export class InvalidTenantIdError extends Error {
  constructor(value: unknown) {
    super(`tenant id must be a UUID, got ${JSON.stringify(value)}`);
    this.name = 'InvalidTenantIdError';
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/**
 * The only way service code should touch tenant data: every unit of work is a transaction whose tenant is set
 * with `set_config(..., true)` (SET LOCAL semantics), so RLS applies and the setting dies with the transaction
 * instead of leaking to the next user of the pooled connection.
 */
export class TenantTransactions {
  constructor(private readonly dataSource: DataSource) {}

  async run<T>(tenantId: string, fn: (tx: TenantTx) => Promise<T>, opts?: { isolation?: IsolationLevel }): Promise<T> {
    if (!isUuid(tenantId)) throw new InvalidTenantIdError(tenantId);
    const work = async (manager: EntityManager): Promise<T> => {
      await manager.query(`select set_config('app.tenant_id', $1, true)`, [tenantId]);
      const tx: TenantTx = { manager, tenantId, repo: (target) => manager.getRepository(target) };
      return fn(tx);
    };
    return opts?.isolation ? this.dataSource.transaction(opts.isolation, work) : this.dataSource.transaction(work);
  }

  /**
   * System work that belongs to no tenant (signup, login by e-mail, relays). No tenant is set, so RLS-protected
   * tables show no rows and refuse writes here; only tables without tenant RLS are usable. Named loudly on
   * purpose: every call site is a review point.
   */
  async runWithoutTenant<T>(fn: (manager: EntityManager) => Promise<T>, opts?: { isolation?: IsolationLevel }): Promise<T> {
    return opts?.isolation ? this.dataSource.transaction(opts.isolation, fn) : this.dataSource.transaction(fn);
  }
}
