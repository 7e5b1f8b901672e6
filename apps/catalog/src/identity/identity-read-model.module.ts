import { Module } from '@nestjs/common';
import { IdentityEventsController } from './identity-events.controller';

/** The catalog's read model of identity (tenant types, mall vendors), fed by `tessera.identity.events`. */
@Module({ controllers: [IdentityEventsController] })
export class IdentityReadModelModule {}
