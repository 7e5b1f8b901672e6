import { invalid } from './errors';
import type { NormalizedLine, ReserveLine, StockCondition } from './types';

export const MAX_QUANTITY = 1_000_000;
export const MAX_LINES = 200;
const CONDITIONS: readonly StockCondition[] = ['new', 'used'];

export function assertSku(sku: unknown): string {
  if (typeof sku !== 'string' || sku.length < 1 || sku.length > 128 || sku.trim() !== sku) {
    throw invalid('invalid_sku', 'sku must be 1 to 128 characters without surrounding spaces', { sku });
  }
  return sku;
}

export function assertQuantity(quantity: unknown, field = 'quantity'): number {
  if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY) {
    throw invalid('invalid_quantity', `${field} must be an integer from 1 to ${MAX_QUANTITY}`, { [field]: quantity });
  }
  return quantity;
}

export function assertCondition(condition: unknown): StockCondition {
  const c = condition ?? 'new';
  if (!CONDITIONS.includes(c as StockCondition)) {
    throw invalid('invalid_condition', `condition must be one of ${CONDITIONS.join(', ')}`, { condition });
  }
  return c as StockCondition;
}

/** Validates the lines, merges repeated SKU/condition pairs and sorts them canonically. */
export function normalizeLines(lines: readonly ReserveLine[]): NormalizedLine[] {
  if (!Array.isArray(lines) || lines.length === 0 || lines.length > MAX_LINES) {
    throw invalid('invalid_lines', `a reservation needs 1 to ${MAX_LINES} lines`);
  }
  const merged = new Map<string, NormalizedLine>();
  for (const line of lines) {
    const sku = assertSku(line.sku);
    const condition = assertCondition(line.condition);
    const quantity = assertQuantity(line.quantity);
    const key = `${condition}\u0000${sku}`;
    const prev = merged.get(key);
    if (prev) {
      prev.quantity = assertQuantity(prev.quantity + quantity);
    } else {
      merged.set(key, { sku, condition, quantity });
    }
  }
  return [...merged.values()].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : a.condition < b.condition ? -1 : a.condition > b.condition ? 1 : 0));
}
