import type { EntityDefinition, MigrationClass } from './data-source';
import { revertLastMigration, runMigrations } from './migrations';
import { runtimeRolePassword } from './provision';

export interface MigrationCliConfig {
  schema: string;
  migrations: MigrationClass[];
  entities?: EntityDefinition[];
  /** Shared schemas (e.g. `messaging`) the runtime role gets DML on; see provisionService. */
  extraSchemas?: string[];
  /**
   * On `run`, before provisioning: what the admin sets up first (extensions, the shared `messaging` schema). Its
   * failures are reported like the migrations', a connection error naming DATABASE_URL.
   */
  beforeRun?: (adminUrl: string, env: NodeJS.ProcessEnv) => Promise<void>;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/**
 * DATABASE_URL, checked before anything connects: pg reads a string that is no URL as something else, so
 * `not-a-url` would fail as `getaddrinfo ENOTFOUND base`, naming no variable. Never echoes the URL (its password).
 */
function checkAdminUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('DATABASE_URL is not a URL (postgres://user:password@host:port/database)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error(`DATABASE_URL must be a postgres:// or postgresql:// URL, not ${url.protocol}//`);
  }
  return url;
}

/**
 * Node's codes for a server that cannot be reached (a missing Unix socket is ENOENT from `connect`), and
 * PostgreSQL's for one that will not let us in: connection exception, bad credentials, no such database, starting up.
 */
const CONNECTION_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);
const CONNECTION_SQLSTATE = /^(08...|28...|3D000|57P03)$/;

function isConnectionError(e: unknown): boolean {
  const { code, syscall } = (e ?? {}) as { code?: unknown; syscall?: unknown };
  if (syscall === 'connect' || syscall === 'getaddrinfo') return true;
  return typeof code === 'string' && (CONNECTION_CODES.has(code) || CONNECTION_SQLSTATE.test(code));
}

/** An error's message; pg's refused connection to `localhost` is an AggregateError with an empty one. */
function messageOf(e: unknown): string {
  const err = e as { message?: unknown; errors?: unknown[] } | null;
  if (typeof err?.message === 'string' && err.message) return err.message;
  if (Array.isArray(err?.errors) && err.errors.length > 0) return err.errors.map(messageOf).join('; ');
  return String(e);
}

/**
 * Entry point for a service's `src/migrate.ts`: `run` provisions and applies pending migrations, `revert` undoes
 * the last one. Reads DATABASE_URL (admin) and DB_APP_PASSWORD, from which the runtime role's own password is
 * derived (runtimeRolePassword). Sets process.exitCode on failure
 * and resolves to the same code.
 */
export async function migrationCli(
  config: MigrationCliConfig,
  args: string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const out = (line: string) => process.stdout.write(`[migrate ${config.schema}] ${line}\n`);
  let admin: URL | undefined;
  try {
    const command = args[0];
    const adminUrl = required(env, 'DATABASE_URL');
    admin = checkAdminUrl(adminUrl);
    if (command === 'run') {
      const password = runtimeRolePassword(required(env, 'DB_APP_PASSWORD'), config.schema);
      await config.beforeRun?.(adminUrl, env);
      const applied = await runMigrations({ ...config, adminUrl, password });
      out(applied.length ? `applied ${applied.join(', ')}` : 'up to date');
    } else if (command === 'revert') {
      const reverted = await revertLastMigration({ ...config, adminUrl });
      out(reverted ? `reverted ${reverted}` : 'nothing to revert');
    } else {
      throw new Error(`unknown command "${command ?? ''}": use "run" or "revert"`);
    }
    return 0;
  } catch (e) {
    // Which variable to fix: the server's address only, never the URL with its password.
    const where = admin && (admin.host || admin.searchParams.get('host') || 'localhost');
    const prefix = admin && isConnectionError(e) ? `cannot connect to the PostgreSQL of DATABASE_URL (${where}): ` : '';
    process.stderr.write(`[migrate ${config.schema}] failed: ${prefix}${messageOf(e)}\n`);
    process.exitCode = 1;
    return 1;
  }
}
