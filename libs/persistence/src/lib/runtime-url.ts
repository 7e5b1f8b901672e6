import { runtimeDatabaseUrl, runtimeRolePassword } from './provision';

/**
 * The URL a service connects with at runtime: `<SCHEMA>_DATABASE_URL` (or `urlEnv`) when set, else DATABASE_URL
 * with the user swapped for `tessera_<schema>` and that role's password derived from DB_APP_PASSWORD
 * (runtimeRolePassword). Throws naming the missing variables.
 */
export function resolveRuntimeDatabaseUrl(
  schema: string,
  env: NodeJS.ProcessEnv = process.env,
  urlEnv = `${schema.toUpperCase()}_DATABASE_URL`,
): string {
  const explicit = env[urlEnv];
  if (explicit) return explicit;
  const admin = env['DATABASE_URL'];
  const password = env['DB_APP_PASSWORD'];
  if (admin && password) return runtimeDatabaseUrl(admin, schema, runtimeRolePassword(password, schema));
  throw new Error(`${urlEnv} is not set, and DATABASE_URL with DB_APP_PASSWORD is not set to derive it`);
}
