/**
 * For services' migration tests: whether a service's outbox is under forced RLS with the tenant and relay policies
 * (messaging's outboxRlsMigration), or its dead letters with the tenant and operator ones (deadLettersMigration).
 * `$1` is the table, e.g. `'orders.outbox_events'`; read it as the superuser.
 */
export const OUTBOX_RLS_SQL = `SELECT c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
        coalesce((SELECT array_agg(polname::text ORDER BY polname) FROM pg_policy WHERE polrelid = c.oid), '{}') AS policies
   FROM pg_class c WHERE c.oid = to_regclass($1)`;

export const OUTBOX_RLS_ON = { enabled: true, forced: true, policies: ['outbox_relay', 'tenant_isolation'] };
export const OUTBOX_RLS_OFF = { enabled: false, forced: false, policies: [] };
export const DEAD_LETTERS_RLS_ON = { enabled: true, forced: true, policies: ['dead_letters_operator', 'tenant_isolation'] };
