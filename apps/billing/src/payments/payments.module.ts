import { Module } from '@nestjs/common';
import { IdempotencyKeys } from '@tessera/persistence';
import { BillingCoreModule } from '../billing-core.module';
import { PaymentsController } from './payments.controller';
import { PaymentsService } from './payments.service';

@Module({ imports: [BillingCoreModule], controllers: [PaymentsController], providers: [PaymentsService, IdempotencyKeys] })
export class PaymentsModule {}
