/** Domain errors; the HTTP layer maps `kind` to a status (conflict → 409, not_found → 404, invalid → 422). */
export type DomainErrorKind = 'conflict' | 'not_found' | 'invalid';

export class InventoryError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'InventoryError';
  }
}

export const insufficientStock = (details: Record<string, unknown>): InventoryError =>
  new InventoryError('conflict', 'insufficient_stock', 'the movement would leave on hand below zero or below reserved', details);

/** 409: the caller's `expectedOnHand` is not what is on hand now; the details carry both. */
export const onHandChanged = (details: Record<string, unknown>): InventoryError =>
  new InventoryError('conflict', 'on_hand_changed', 'on hand is no longer what the movement expected: read the level again', details);

/** The column behind on hand (and a ledger row's before/after) is a PostgreSQL integer. */
export const MAX_ON_HAND = 2_147_483_647;

export const stockLimitExceeded = (details: Record<string, unknown>): InventoryError =>
  new InventoryError('conflict', 'stock_limit_exceeded', `the movement would put more than ${MAX_ON_HAND} units on hand in one stock row`, details);

export const notFound = (what: string, id: string): InventoryError =>
  new InventoryError('not_found', `${what}_not_found`, `${what} ${id} not found`, { id });

/**
 * 422: a location named in a request body (a movement's locationId or toLocationId, a parentId, a reorder policy's
 * locationId) is not one of the tenant's; RLS hides the others, so another tenant's reads as unknown. A location in
 * the path (`GET /v1/inventory/locations/{id}`) that does not exist is a 404 (notFound).
 */
export const unknownLocation = (id: string): InventoryError =>
  new InventoryError('invalid', 'unknown_location', `location ${id} is not one of this tenant's locations`, { locationId: id });

/** 422: the tenant's catalog (inventory's read model of it) has no variant with this SKU. */
export const unknownSku = (sku: string): InventoryError =>
  new InventoryError('invalid', 'unknown_sku', `SKU ${JSON.stringify(sku)} is not in this tenant's catalog (a SKU the catalog just created is known here a moment later)`, { sku });

export const invalid = (code: string, message: string, details?: Record<string, unknown>): InventoryError =>
  new InventoryError('invalid', code, message, details);

/** PostgreSQL error code of a thrown driver error, if any. */
export function pgCode(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const direct = (e as { code?: unknown }).code;
  if (typeof direct === 'string') return direct;
  const inner = (e as { driverError?: { code?: unknown } }).driverError?.code;
  return typeof inner === 'string' ? inner : undefined;
}
