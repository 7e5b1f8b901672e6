import { Injectable } from '@nestjs/common';
import { OutboxWriter, type OutboxEventInput } from '@tessera/messaging';
import { TenantTransactions, type TenantTx } from '@tessera/persistence';
import { NotFoundProblem } from '@tessera/service-kit';
import { In, MoreThan } from 'typeorm';
import { productUpdated, variantUpdated } from '../products/catalog-events';
import { ProductEntity } from '../products/product.entity';
import { VariantEntity } from '../products/variant.entity';

/** Products (each with its up to MAX_VARIANTS variants) read and republished per transaction. */
export const PRODUCTS_PER_TRANSACTION = 50;

export interface CatalogRepublishCounts {
  tenants: number;
  products: number;
  variants: number;
}

/**
 * The operator's backfill of read models built from catalog events (orders' variants and products, inventory's
 * `catalog_variants`): writes `catalog.product.updated` and `catalog.variant.updated` again for every product and
 * variant, with the current state and the current version, through the outbox. The event log forgets (pruned or past
 * retention), so a consumer group that starts later, or a read model rebuilt after data loss, learns the older
 * products this way.
 *
 * The normal `updated` types, built by the normal builders with `changed: []` (nothing changed: this is the state
 * as it is), and the version NOT bumped: consumers keep a row unless the event's version is higher, so a read model
 * that already has this version (or a newer one) keeps it, and one that misses the row inserts it.
 *
 * Every read is a tenant transaction under RLS: tenant ids come from `tenant_ids_after` (ids only), then each tenant
 * is read keyset by product id, PRODUCTS_PER_TRANSACTION products with their variants per transaction, whose events
 * are written in that same transaction. REPEATABLE READ: the products and variants come from one snapshot, so a
 * variant's effective status (which depends on its product's) is the one its version stands for even while a
 * product changes concurrently; a consumer never keeps a mismatched state under a real version number.
 */
@Injectable()
export class CatalogRepublishService {
  constructor(
    private readonly transactions: TenantTransactions,
    private readonly outbox: OutboxWriter,
  ) {}

  /** One tenant (404 when the catalog has no product of it and never heard of it) or, without `tenantId`, every tenant with products. */
  async republish(tenantId?: string): Promise<CatalogRepublishCounts> {
    if (tenantId !== undefined) {
      const counts = await this.republishTenant(tenantId);
      if (counts === null) throw new NotFoundProblem(`tenant ${tenantId} is not known to the catalog`);
      return { tenants: 1, ...counts };
    }
    const total: CatalogRepublishCounts = { tenants: 0, products: 0, variants: 0 };
    for await (const id of this.transactions.allTenantIds()) {
      const counts = await this.republishTenant(id);
      if (counts === null) continue;
      total.tenants += 1;
      total.products += counts.products;
      total.variants += counts.variants;
    }
    return total;
  }

  /** The tenant's events; what was republished, or null when the tenant has no product and is not known here. */
  private async republishTenant(tenantId: string): Promise<{ products: number; variants: number } | null> {
    const counts = { products: 0, variants: 0 };
    let after: string | null = null;
    for (;;) {
      const page = await this.transactions.run(tenantId, (tx) => this.republishPage(tx, after), { isolation: 'REPEATABLE READ' });
      if (after === null && page.products.length === 0 && !(await this.knows(tenantId))) return null;
      counts.products += page.products.length;
      counts.variants += page.variants;
      if (page.products.length < PRODUCTS_PER_TRANSACTION) return counts;
      after = page.products[page.products.length - 1].id;
    }
  }

  private async republishPage(tx: TenantTx, after: string | null): Promise<{ products: ProductEntity[]; variants: number }> {
    const products = await tx.manager.find(ProductEntity, {
      where: after === null ? { tenantId: tx.tenantId } : { tenantId: tx.tenantId, id: MoreThan(after) },
      order: { id: 'ASC' },
      take: PRODUCTS_PER_TRANSACTION,
    });
    if (products.length === 0) return { products, variants: 0 };
    const variants = await tx.manager.find(VariantEntity, {
      where: { productId: In(products.map((p) => p.id)) },
      order: { productId: 'ASC', position: 'ASC' },
    });
    const events: OutboxEventInput<unknown>[] = [];
    for (const p of products) {
      // The product first, then its variants: one partition key (the product id), the order a normal change has.
      events.push(productUpdated(p, []));
      for (const v of variants) if (v.productId === p.id) events.push(variantUpdated(v, p.status, []));
    }
    await this.outbox.appendAll(tx, events);
    return { products, variants: variants.length };
  }

  /** A tenant without products is still known when identity told the catalog of it (known_tenants). */
  private knows(tenantId: string): Promise<boolean> {
    return this.transactions.run(tenantId, async (tx) => {
      const [row]: { known: boolean }[] = await tx.manager.query(`SELECT EXISTS (SELECT 1 FROM known_tenants WHERE tenant_id = $1) AS known`, [tenantId]);
      return row.known;
    });
  }
}
