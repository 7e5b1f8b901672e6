import { Module, type DynamicModule } from '@nestjs/common';
import { MessagingModule } from '@tessera/messaging';
import { PersistenceModule } from '@tessera/persistence';
import { CATALOG_ENTITIES, CATALOG_SCHEMA } from './entities';
import { ProductsModule } from './products/products.module';

export interface CatalogModuleOptions {
  /** Runtime database URL; default CATALOG_DATABASE_URL, or derived from DATABASE_URL and DB_APP_PASSWORD. */
  databaseUrl?: string;
}

/** Catalog's root module: products and variants on schema `catalog`. */
@Module({})
export class AppModule {
  static forRoot(options: CatalogModuleOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PersistenceModule.forRoot({ schema: CATALOG_SCHEMA, entities: CATALOG_ENTITIES, url: options.databaseUrl, purgeIdempotencyKeys: true }),
        // The catalog only publishes (through its outbox); it consumes no other context's events yet.
        MessagingModule.forRoot({
          context: 'catalog',
          schema: CATALOG_SCHEMA,
          groupId: 'catalog',
          subscribeTo: [],
          databaseUrl: options.databaseUrl,
        }),
        ProductsModule,
      ],
    };
  }
}
