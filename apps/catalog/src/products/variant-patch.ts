import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { FieldError } from '@tessera/service-kit';
import type { CreateVariantDto, PatchVariantDto } from './dto/variant.dto';
import type { VariantEntity } from './variant.entity';

export function fieldError(field: string, detail: string): FieldError {
  return { field, pointer: '#/' + field.split('.').join('/'), detail };
}

/** A new variant row from the request; `position` orders it after the product's existing variants. */
export function newVariant(
  dto: CreateVariantDto | PatchVariantDto,
  ids: { tenantId: string; productId: string },
  position: number,
  now: Date,
): VariantEntity {
  return {
    id: randomUUID(),
    tenantId: ids.tenantId,
    productId: ids.productId,
    position,
    sku: dto.sku as string,
    priceAmount: dto.priceAmount as number,
    currency: dto.currency as string,
    compareAtAmount: dto.compareAtAmount ?? null,
    fulfillment: dto.fulfillment ?? 'physical',
    weightGrams: dto.weightGrams ?? null,
    options: dto.options ?? {},
    status: ('status' in dto ? dto.status : undefined) ?? 'active',
    version: 1,
    createdAt: now,
    updatedAt: now,
  };
}

/** The compare-at ("was") price only makes sense above the price. */
export function compareAtProblem(v: Pick<VariantEntity, 'priceAmount' | 'compareAtAmount'>, path: string): FieldError | null {
  if (v.compareAtAmount === null || v.compareAtAmount > v.priceAmount) return null;
  return fieldError(`${path}.compareAtAmount`, 'compareAtAmount must be greater than priceAmount');
}

const PATCHABLE = ['priceAmount', 'currency', 'compareAtAmount', 'fulfillment', 'weightGrams', 'options', 'status'] as const;

/**
 * Applies one `variants[i]` entry with an id to a copy of `current`; returns the copy and the names of the fields
 * that really changed (sending a field with its current value changes nothing).
 */
export function patchVariant(current: VariantEntity, patch: PatchVariantDto): { next: VariantEntity; changed: string[] } {
  const next: VariantEntity = { ...current };
  const changed: string[] = [];
  for (const field of PATCHABLE) {
    const value = patch[field];
    if (value === undefined) continue;
    const normalized = field === 'compareAtAmount' || field === 'weightGrams' ? (value ?? null) : value;
    if (isDeepStrictEqual(normalized, current[field])) continue;
    (next as unknown as Record<string, unknown>)[field] = normalized;
    changed.push(field);
  }
  return { next, changed };
}
