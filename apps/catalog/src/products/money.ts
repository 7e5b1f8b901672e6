import type { ValueTransformer } from 'typeorm';

/**
 * ISO 4217 codes of currencies in use, from the ICU data Node ships (Intl), so the list follows ISO updates with
 * the runtime instead of a hand-kept copy. Test and precious-metal codes (XTS, XAU and the like) are not in it.
 */
export const CURRENCY_CODES: readonly string[] = Object.freeze(Intl.supportedValuesOf('currency'));

const CURRENCY_SET = new Set(CURRENCY_CODES);

export function isCurrencyCode(value: unknown): value is string {
  return typeof value === 'string' && CURRENCY_SET.has(value);
}

/**
 * The largest amount accepted, in minor units: 10^11 (a billion in a two-decimal currency). Anything above is a
 * typo or an attack, and it keeps every amount a safe JavaScript integer.
 */
export const MAX_AMOUNT = 100_000_000_000;

/** PostgreSQL returns bigint as a string; amounts are capped well below 2^53, so a number is exact. */
export const bigintAsNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};
