import { Module } from '@nestjs/common';
import { InternalTenantsController } from './internal-tenants.controller';
import { TenantStatusService } from './tenant-status.service';
import { TenantsController } from './tenants.controller';
import { TenantsService } from './tenants.service';

@Module({ controllers: [TenantsController, InternalTenantsController], providers: [TenantsService, TenantStatusService] })
export class TenantsModule {}
