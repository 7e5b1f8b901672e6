import { Module, type DynamicModule } from '@nestjs/common';
import { MessagingModule, type EventTransport } from '@tessera/messaging';
import { PersistenceModule } from '@tessera/persistence';
import { ORDERS_SCHEMA } from './migrations';
import { OrdersModule } from './orders.module';

export interface OrdersModuleOptions {
  /** Runtime database URL; default ORDERS_DATABASE_URL, or derived from DATABASE_URL and DB_APP_PASSWORD. */
  databaseUrl?: string;
  /** Overrides the event transport chosen from the environment (tests). */
  transport?: EventTransport;
}

/** Orders' root module: orders, their history and the catalog read model on schema `orders`. */
@Module({})
export class AppModule {
  static forRoot(options: OrdersModuleOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PersistenceModule.forRoot({ schema: ORDERS_SCHEMA, entities: [], url: options.databaseUrl, purgeIdempotencyKeys: true }),
        MessagingModule.forRoot({
          context: 'orders',
          schema: ORDERS_SCHEMA,
          groupId: 'orders',
          subscribeTo: ['catalog', 'inventory', 'billing'],
          databaseUrl: options.databaseUrl,
          transport: options.transport,
        }),
        OrdersModule,
      ],
    };
  }
}
