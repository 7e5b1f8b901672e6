// Names derived from a service's schema. One place, so the role that migrations SET ROLE to, the role the service
// logs in as and the schema they are granted on can never drift apart.

// 63 is PostgreSQL's identifier limit; "tessera_" + schema + "_owner" must fit.
const SCHEMA_NAME = /^[a-z][a-z0-9_]{0,48}$/;

/** Throws unless `schema` is a plain lower-case identifier, so it can be interpolated into DDL safely. */
export function assertSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`invalid schema name "${schema}": use lower-case letters, digits and _ (max 49 chars)`);
  }
  return schema;
}

/** The LOGIN role a service connects as at runtime: DML only, subject to RLS. */
export function runtimeRoleName(schema: string): string {
  return `tessera_${assertSchemaName(schema)}`;
}

/** The NOLOGIN role that owns the schema and its tables; migrations run as it (SET ROLE). */
export function ownerRoleName(schema: string): string {
  return `tessera_${assertSchemaName(schema)}_owner`;
}

/** Double-quoted identifier; callers have validated names already, this is defence in depth. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
