import type { EntityDefinition, MigrationClass } from './data-source';
import { revertLastMigration, runMigrations } from './migrations';
import { runtimeRolePassword } from './provision';

export interface MigrationCliConfig {
  schema: string;
  migrations: MigrationClass[];
  entities?: EntityDefinition[];
  /** Shared schemas (e.g. `messaging`) the runtime role gets DML on; see provisionService. */
  extraSchemas?: string[];
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
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
  try {
    const command = args[0];
    const adminUrl = required(env, 'DATABASE_URL');
    if (command === 'run') {
      const password = runtimeRolePassword(required(env, 'DB_APP_PASSWORD'), config.schema);
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
    process.stderr.write(`[migrate ${config.schema}] failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
    return 1;
  }
}
