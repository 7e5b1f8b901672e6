import type { DataSource, EntityManager, EntityTarget, ObjectLiteral, Repository } from 'typeorm';
import { inTransaction, InvalidTenantIdError, isUuid, type IsolationLevel } from './pipelined-transaction';

export { InvalidTenantIdError, isUuid, type IsolationLevel };

/** What tenant-scoped code receives: the transaction's manager and the tenant it is bound to. */
export interface TenantTx {
  readonly manager: EntityManager;
  readonly tenantId: string;
  /** A repository in this transaction; RLS limits it to `tenantId`. */
  repo<E extends ObjectLiteral>(target: EntityTarget<E>): Repository<E>;
}

/**
 * The only way service code should touch tenant data: every unit of work is a transaction whose tenant is set
 * with `set_config(..., true)` (SET LOCAL semantics), so RLS applies and the setting dies with the transaction
 * instead of leaking to the next user of the pooled connection. BEGIN and the tenant go out as one message, ahead of
 * the work's first statement (`inTransaction`).
 */
export class TenantTransactions {
  constructor(private readonly dataSource: DataSource) {}

  async run<T>(tenantId: string, fn: (tx: TenantTx) => Promise<T>, opts?: { isolation?: IsolationLevel }): Promise<T> {
    if (!isUuid(tenantId)) throw new InvalidTenantIdError(tenantId);
    return inTransaction(
      this.dataSource,
      (manager) => fn({ manager, tenantId, repo: (target) => manager.getRepository(target) }),
      { tenantId, isolation: opts?.isolation },
    );
  }

  /**
   * System work that belongs to no tenant (signup, login by e-mail, relays). No tenant is set, so RLS-protected
   * tables show no rows and refuse writes here; only tables without tenant RLS are usable. Named loudly on
   * purpose: every call site is a review point.
   */
  async runWithoutTenant<T>(fn: (manager: EntityManager) => Promise<T>, opts?: { isolation?: IsolationLevel }): Promise<T> {
    return inTransaction(this.dataSource, fn, { isolation: opts?.isolation });
  }

  /**
   * Every tenant id of the service's tenant listing (`tenantIdsListingMigration`: the schema's
   * `tenant_ids_after`, found on the pool's search_path), in id order, fetched `pageSize` at a time. Ids only: the
   * caller reads each tenant's rows with `run(tenantId, ...)`, under RLS.
   */
  async *allTenantIds(pageSize = 500): AsyncGenerator<string> {
    let after: string | null = null;
    for (;;) {
      const page: { tenant_id: string }[] = await this.dataSource.query(`SELECT tenant_id FROM tenant_ids_after($1::uuid, $2)`, [after, pageSize]);
      for (const row of page) yield row.tenant_id;
      if (page.length < pageSize) return;
      after = page[page.length - 1].tenant_id;
    }
  }
}
