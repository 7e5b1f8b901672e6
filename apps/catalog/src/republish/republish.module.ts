import { Module } from '@nestjs/common';
import { CatalogRepublishController } from './republish.controller';
import { CatalogRepublishService } from './republish.service';

@Module({ controllers: [CatalogRepublishController], providers: [CatalogRepublishService] })
export class RepublishModule {}
