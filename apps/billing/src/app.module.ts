import { Module, type DynamicModule } from '@nestjs/common';
import { MessagingModule, type MessagingModuleOptions } from '@tessera/messaging';
import { PersistenceModule } from '@tessera/persistence';
import { BILLING_ENTITIES, BILLING_SCHEMA } from './entities';
import { PaymentsModule } from './payments/payments.module';
import { SagaModule } from './saga/saga.module';

export interface BillingModuleOptions {
  /** Runtime database URL; default BILLING_DATABASE_URL, or derived from DATABASE_URL and DB_APP_PASSWORD. */
  databaseUrl?: string;
  /** Overrides of the messaging wiring (tests: relay polling, a given transport). */
  messaging?: Partial<Pick<MessagingModuleOptions, 'transport' | 'relay' | 'registry'>>;
}

/** Billing's root module: payments on schema `billing`, opened and closed by orders events. */
@Module({})
export class AppModule {
  static forRoot(options: BillingModuleOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        // purgeIdempotencyKeys: expired Idempotency-Keys of the retry route go in the background (migration 1797300000000).
        PersistenceModule.forRoot({ schema: BILLING_SCHEMA, entities: BILLING_ENTITIES, url: options.databaseUrl, purgeIdempotencyKeys: true }),
        MessagingModule.forRoot({
          context: 'billing',
          schema: BILLING_SCHEMA,
          groupId: 'billing',
          subscribeTo: ['orders'],
          databaseUrl: options.databaseUrl,
          ...options.messaging,
        }),
        PaymentsModule,
        SagaModule,
      ],
    };
  }
}
