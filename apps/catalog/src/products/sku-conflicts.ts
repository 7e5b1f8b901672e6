import type { TenantTx } from '@tessera/persistence';
import { ConflictProblem, type FieldError } from '@tessera/service-kit';
import { In } from 'typeorm';
import { pgError } from '../common/db-errors';
import { VariantEntity } from './variant.entity';
import { fieldError } from './variant-patch';

const SKU_CONSTRAINT = 'variants_tenant_sku_key';

export function skuTaken(sku: string): ConflictProblem {
  return new ConflictProblem(`SKU "${sku}" is already used by another variant of this tenant`, {
    extensions: { reason: 'sku_taken', sku },
  });
}

/**
 * The SKUs a request gives twice (each entry's `path` names it, e.g. `variants.3`): a mistake in the request
 * itself, answered as a field error rather than as a SKU some other variant holds.
 */
export function duplicateSkuErrors(entries: { sku: string; path: string }[]): FieldError[] {
  const first = new Map<string, string>();
  const errors: FieldError[] = [];
  for (const { sku, path } of entries) {
    const earlier = first.get(sku);
    if (earlier === undefined) first.set(sku, path);
    else errors.push(fieldError(`${path}.sku`, `repeats the SKU of ${earlier}: a SKU is unique per tenant`));
  }
  return errors;
}

/** 409 naming the first SKU that already exists in the tenant (one repeated in the request is refused before, 400). */
export async function assertSkusFree(tx: TenantTx, skus: string[]): Promise<void> {
  if (skus.length === 0) return;
  const existing = await tx.manager.find(VariantEntity, { where: { sku: In(skus) }, select: { sku: true } });
  const taken = new Set(existing.map((v) => v.sku));
  const first = skus.find((sku) => taken.has(sku));
  if (first !== undefined) throw skuTaken(first);
}

/**
 * A concurrent insert of the same SKU passes the check above and then fails on the unique constraint. PostgreSQL
 * leaves the key out of the error on RLS tables, so the caller re-checks its SKUs to name the one that was taken.
 */
export function isSkuConflict(error: unknown): boolean {
  const pg = pgError(error);
  return pg?.code === '23505' && pg.constraint === SKU_CONSTRAINT;
}
