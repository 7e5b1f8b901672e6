import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { createServiceDataSource, type EntityDefinition } from '../data-source';
import { IdempotencyKeysPurger, type IdempotencyKeysPurgeOptions } from '../idempotency-keys-purge';
import { poolSizeFromEnv } from '../pool-size';
import { resolveRuntimeDatabaseUrl } from '../runtime-url';
import { TenantTransactions } from '../tenant-transactions';

export interface PersistenceModuleOptions {
  schema: string;
  entities: EntityDefinition[];
  /** Env variable holding the runtime URL; default `<SCHEMA>_DATABASE_URL`. */
  urlEnv?: string;
  /** Runtime URL given directly (tests); wins over the environment. */
  url?: string;
  /** Connections in the pool; default `DATABASE_POOL_SIZE` from the environment, else DEFAULT_POOL_SIZE (24). */
  poolSize?: number;
  /**
   * Purge expired `Idempotency-Key` rows in the background (IdempotencyKeysPurger; `true` for the defaults). For
   * services whose migrations ran createIdempotencyKeysPurge.
   */
  purgeIdempotencyKeys?: boolean | IdempotencyKeysPurgeOptions;
}

export const PERSISTENCE_OPTIONS = Symbol('PERSISTENCE_OPTIONS');

/** Closes the pool last, after other providers' shutdown hooks (relays flushing, in-flight requests) ran. */
@Injectable()
class DataSourceCloser implements OnApplicationShutdown {
  constructor(@Inject(DataSource) private readonly ds: DataSource) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}

/**
 * Global module giving a service its runtime DataSource (connected as `tessera_<schema>`, initialized before the
 * app starts) and TenantTransactions; with `purgeIdempotencyKeys`, also the background purge of expired keys.
 */
@Module({})
export class PersistenceModule {
  static forRoot(options: PersistenceModuleOptions): DynamicModule {
    const purge = options.purgeIdempotencyKeys;
    const purger: Provider[] = purge
      ? [
          {
            provide: IdempotencyKeysPurger,
            inject: [DataSource],
            useFactory: (ds: DataSource) => new IdempotencyKeysPurger(ds, options.schema, purge === true ? {} : purge),
          },
        ]
      : [];
    return {
      module: PersistenceModule,
      global: true,
      providers: [
        { provide: PERSISTENCE_OPTIONS, useValue: options },
        {
          provide: DataSource,
          inject: [PERSISTENCE_OPTIONS],
          useFactory: async (opts: PersistenceModuleOptions): Promise<DataSource> => {
            const ds = createServiceDataSource({
              url: opts.url ?? resolveRuntimeDatabaseUrl(opts.schema, process.env, opts.urlEnv),
              schema: opts.schema,
              entities: opts.entities,
              poolSize: opts.poolSize ?? poolSizeFromEnv(process.env),
            });
            return ds.initialize();
          },
        },
        {
          provide: TenantTransactions,
          inject: [DataSource],
          useFactory: (ds: DataSource) => new TenantTransactions(ds),
        },
        DataSourceCloser,
        ...purger,
      ],
      exports: [DataSource, TenantTransactions, PERSISTENCE_OPTIONS, ...purger],
    };
  }
}
