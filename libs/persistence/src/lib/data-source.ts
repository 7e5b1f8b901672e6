import { DataSource, type EntitySchema, type MigrationInterface } from 'typeorm';
import { coalescingSocket } from './coalescing-socket';
import { DEFAULT_POOL_SIZE } from './pool-size';
import { assertSchemaName } from './service-names';

/** An entity class (decorated with @Entity) or an EntitySchema. */
export type EntityDefinition = (new (...args: never[]) => object) | EntitySchema;
/** A TypeORM migration class. */
export type MigrationClass = new () => MigrationInterface;

export interface ServiceDataSourceOptions {
  url: string;
  schema: string;
  entities: EntityDefinition[];
  migrations?: MigrationClass[];
  poolSize?: number;
  applicationName?: string;
}

/** Internal: the migration runner also needs every connection to run as the schema's owner role. */
export interface InternalDataSourceOptions extends ServiceDataSourceOptions {
  sessionRole?: string;
}

/**
 * How long a pooled connection may sit idle before the pool closes it. node-postgres' default, 10 s, closed the
 * connections a burst had opened while load went on at a lower rate, and the next burst opened them again: a
 * backend fork, a SCRAM exchange and every prepared statement parsed anew, all at once. In bench:events that stalled
 * the pipeline for half a second (p99 at 1,000 events/s 750 ms instead of 150 ms). An idle backend costs
 * PostgreSQL a few megabytes; the pools are small.
 */
export const POOL_IDLE_TIMEOUT_MS = 5 * 60_000;

/**
 * node-postgres options every service pool runs with (the benches build their pools from it too). Pipeline mode: a
 * statement may be sent before the previous one's answer arrived (see pipelined-transaction.ts); statements sent one
 * after another, awaited, behave as without it. Statements issued in the same turn of the event loop leave in one
 * write (coalescing-socket.ts).
 */
export const SERVICE_POOL_OPTIONS = { pipeline: true, idleTimeoutMillis: POOL_IDLE_TIMEOUT_MS, stream: coalescingSocket } as const;

export function buildServiceDataSource(opts: InternalDataSourceOptions): DataSource {
  const schema = assertSchemaName(opts.schema);
  // Startup options apply to every pooled connection, including ones the pool opens later, which a one-off
  // `SET search_path` after connect would miss.
  const startup = [`-c search_path=${schema}`];
  if (opts.sessionRole) startup.push(`-c role=${opts.sessionRole}`);
  return new DataSource({
    type: 'postgres',
    url: opts.url,
    schema,
    entities: opts.entities,
    migrations: opts.migrations ?? [],
    migrationsTableName: 'migrations',
    migrationsRun: false,
    synchronize: false,
    // Roles here own nothing outside their schema; extensions are a DBA's job, not the app's at boot.
    installExtensions: false,
    // gen_random_uuid() is built into PostgreSQL 13+, uuid-ossp would need an extension.
    uuidExtension: 'pgcrypto',
    poolSize: opts.poolSize ?? DEFAULT_POOL_SIZE,
    applicationName: opts.applicationName ?? `tessera-${schema}`,
    extra: { options: startup.join(' '), ...SERVICE_POOL_OPTIONS },
  });
}

/**
 * A TypeORM DataSource bound to one service schema: tables resolve in `schema`, the migrations table is
 * `<schema>.migrations`, and nothing is synchronized or migrated implicitly. Call `initialize()` yourself.
 */
export function createServiceDataSource(opts: ServiceDataSourceOptions): DataSource {
  return buildServiceDataSource(opts);
}
