import { Module } from '@nestjs/common';
import { IdempotencyKeys } from '@tessera/persistence';
import { OrdersController } from './orders/orders.controller';
import { OrdersService } from './orders/orders.service';
import { OrderEventsController } from './saga/order-events.controller';
import { OrderSaga } from './saga/order-saga.service';
import { CatalogEventsController } from './variants/catalog-events.controller';

/** Orders' HTTP routes and event handlers. */
@Module({
  controllers: [OrdersController, OrderEventsController, CatalogEventsController],
  providers: [OrdersService, IdempotencyKeys, OrderSaga],
})
export class OrdersModule {}
