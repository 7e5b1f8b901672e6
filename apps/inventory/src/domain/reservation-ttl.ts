/**
 * How long a reservation holds stock. A checkout's is short (the customer pays now); cash on delivery is collected
 * by the carrier days later, so its hold is a tenant setting of its own. Both are per tenant (tenant_settings).
 */
export const DEFAULT_TTL_SECONDS = 15 * 60;
export const MAX_TTL_SECONDS = 7 * 24 * 3600;
export const DEFAULT_COD_TTL_SECONDS = 14 * 24 * 3600;
export const MAX_COD_TTL_SECONDS = 90 * 24 * 3600;

/** The tenant's times to live as one SQL expression (tenant_settings is under RLS: one row or none). */
export const TTL_SETTINGS_SQL = `(SELECT json_build_object('checkout', reservation_ttl_seconds, 'cod', cod_reservation_ttl_seconds) FROM tenant_settings)`;
export type TtlSettings = { checkout: number; cod: number } | null;

/** The tenant's times to live, or their defaults while it has set none. */
export function effectiveTtls(settings: TtlSettings): { checkout: number; cod: number } {
  return { checkout: settings?.checkout ?? DEFAULT_TTL_SECONDS, cod: settings?.cod ?? DEFAULT_COD_TTL_SECONDS };
}

/** A request's time to live: its own, else the tenant's for how it is paid. */
export function ttlOf(req: { ttlSeconds: number; cashOnDelivery?: boolean }, settings: TtlSettings): number {
  if (req.ttlSeconds) return req.ttlSeconds;
  const ttls = effectiveTtls(settings);
  return req.cashOnDelivery ? ttls.cod : ttls.checkout;
}
