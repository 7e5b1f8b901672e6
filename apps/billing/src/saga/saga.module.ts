import { Module } from '@nestjs/common';
import { BillingCoreModule } from '../billing-core.module';
import { OrderEventsController } from './order-events.controller';
import { PaymentSaga } from './payment-saga';

@Module({ imports: [BillingCoreModule], controllers: [OrderEventsController], providers: [PaymentSaga] })
export class SagaModule {}
