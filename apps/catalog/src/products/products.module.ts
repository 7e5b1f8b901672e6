import { Module } from '@nestjs/common';
import { IdempotencyKeys } from '@tessera/persistence';
import { ProductsController } from './products.controller';
import { ProductsService } from './products.service';

@Module({ controllers: [ProductsController], providers: [ProductsService, IdempotencyKeys], exports: [ProductsService] })
export class ProductsModule {}
