import { Global, Module, type DynamicModule } from '@nestjs/common';
import { MessagingModule, type EventTransport } from '@tessera/messaging';
import { PersistenceModule } from '@tessera/persistence';
import { INVENTORY_CONFIG, type InventoryConfig } from './config';
import { InventoryModule } from './inventory.module';
import { INVENTORY_SCHEMA } from './migrations';

export interface InventoryModuleOptions {
  config: InventoryConfig;
  /** Runtime database URL; default INVENTORY_DATABASE_URL, or derived from DATABASE_URL and DB_APP_PASSWORD. */
  databaseUrl?: string;
  /** Overrides the transport chosen from the environment (tests). */
  transport?: EventTransport;
}

@Global()
@Module({})
class InventoryConfigModule {
  static forRoot(config: InventoryConfig): DynamicModule {
    return { module: InventoryConfigModule, providers: [{ provide: INVENTORY_CONFIG, useValue: config }], exports: [INVENTORY_CONFIG] };
  }
}

/** Inventory's root module: locations, stock, ledger, reservations on schema `inventory`. */
@Module({})
export class AppModule {
  static forRoot(options: InventoryModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        InventoryConfigModule.forRoot(options.config),
        // Raw SQL over the runtime role: the domain locks rows in a canonical order, which entities would hide. Its hot
        // statements are named prepared statements under PostgreSQL's default plan_cache_mode: forcing custom plans
        // re-planned every call (about 0.8 ms of planning per order in bench:checkout --pg-stats), while `auto` keeps
        // a generic plan where it costs no more and still re-plans those whose plan depends on the values.
        PersistenceModule.forRoot({
          schema: INVENTORY_SCHEMA,
          entities: [],
          url: options.databaseUrl,
          purgeIdempotencyKeys: true,
        }),
        MessagingModule.forRoot({
          context: 'inventory',
          schema: INVENTORY_SCHEMA,
          groupId: 'inventory',
          // orders: the saga; catalog: the read model of the tenants' SKUs (catalog_variants).
          subscribeTo: ['orders', 'catalog'],
          databaseUrl: options.databaseUrl,
          transport: options.transport,
          // The saga handlers are idempotent by order reference and use no inbox; the reservations of partitions
          // handled in parallel are grouped by the domain's own batcher instead of one inbox transaction. The
          // catalog handlers use the inbox, one transaction per event.
          batchTransactions: false,
        }),
        InventoryModule,
      ],
    };
  }
}
