import { Module } from '@nestjs/common';
import { IdentityRepublishController } from './republish.controller';
import { IdentityRepublishService } from './republish.service';

@Module({ controllers: [IdentityRepublishController], providers: [IdentityRepublishService] })
export class RepublishModule {}
