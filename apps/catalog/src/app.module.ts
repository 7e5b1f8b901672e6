import { Module, type DynamicModule } from '@nestjs/common';
import { MessagingModule, type EventTransport } from '@tessera/messaging';
import { PersistenceModule } from '@tessera/persistence';
import { CATALOG_ENTITIES, CATALOG_SCHEMA } from './entities';
import { IdentityReadModelModule } from './identity/identity-read-model.module';
import { ProductsModule } from './products/products.module';
import { RepublishModule } from './republish/republish.module';

export interface CatalogModuleOptions {
  /** Runtime database URL; default CATALOG_DATABASE_URL, or derived from DATABASE_URL and DB_APP_PASSWORD. */
  databaseUrl?: string;
  /** Overrides the event transport chosen from the environment (tests). */
  transport?: EventTransport;
}

/** Catalog's root module: products and variants on schema `catalog`. */
@Module({})
export class AppModule {
  static forRoot(options: CatalogModuleOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PersistenceModule.forRoot({ schema: CATALOG_SCHEMA, entities: CATALOG_ENTITIES, url: options.databaseUrl, purgeIdempotencyKeys: true }),
        // identity: the read model of tenant types and mall vendors that products' vendorId is checked against.
        MessagingModule.forRoot({
          context: 'catalog',
          schema: CATALOG_SCHEMA,
          groupId: 'catalog',
          subscribeTo: ['identity'],
          databaseUrl: options.databaseUrl,
          transport: options.transport,
        }),
        ProductsModule,
        IdentityReadModelModule,
        RepublishModule,
      ],
    };
  }
}
