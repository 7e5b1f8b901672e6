import { Module } from '@nestjs/common';
import { BillingCoreModule } from '../billing-core.module';
import { PaymentsController } from './payments.controller';
import { PaymentsService } from './payments.service';

@Module({ imports: [BillingCoreModule], controllers: [PaymentsController], providers: [PaymentsService] })
export class PaymentsModule {}
