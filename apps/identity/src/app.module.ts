import { Global, Module, type DynamicModule } from '@nestjs/common';
import { MessagingModule } from '@tessera/messaging';
import { PersistenceModule } from '@tessera/persistence';
import { ApiKeysModule } from './api-keys/api-keys.module';
import { AuthModule } from './auth/auth.module';
import { IDENTITY_CONFIG, type IdentityConfig } from './config';
import { IdempotencyModule } from './common/idempotency.module';
import { CryptoModule } from './crypto/crypto.module';
import { IDENTITY_ENTITIES, IDENTITY_SCHEMA } from './entities';
import { RepublishModule } from './republish/republish.module';
import { StoresModule } from './stores/stores.module';
import { TenantsModule } from './tenants/tenants.module';
import { UsersModule } from './users/users.module';
import { VendorsModule } from './vendors/vendors.module';

export interface IdentityModuleOptions {
  config: IdentityConfig;
  /** Runtime database URL; default IDENTITY_DATABASE_URL, or derived from DATABASE_URL and DB_APP_PASSWORD. */
  databaseUrl?: string;
}

@Global()
@Module({})
class IdentityConfigModule {
  static forRoot(config: IdentityConfig): DynamicModule {
    return {
      module: IdentityConfigModule,
      providers: [{ provide: IDENTITY_CONFIG, useValue: config }],
      exports: [IDENTITY_CONFIG],
    };
  }
}

/** Identity's root module: tenants, users, auth, stores, vendors and API keys on schema `identity`. */
@Module({})
export class AppModule {
  static forRoot(options: IdentityModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        IdentityConfigModule.forRoot(options.config),
        PersistenceModule.forRoot({ schema: IDENTITY_SCHEMA, entities: IDENTITY_ENTITIES, url: options.databaseUrl, purgeIdempotencyKeys: true }),
        // Identity only publishes (through its outbox); it consumes no other context's events.
        MessagingModule.forRoot({
          context: 'identity',
          schema: IDENTITY_SCHEMA,
          groupId: 'identity',
          subscribeTo: [],
          databaseUrl: options.databaseUrl,
        }),
        CryptoModule,
        IdempotencyModule,
        TenantsModule,
        UsersModule,
        AuthModule,
        StoresModule,
        VendorsModule,
        ApiKeysModule,
        RepublishModule,
      ],
    };
  }
}
