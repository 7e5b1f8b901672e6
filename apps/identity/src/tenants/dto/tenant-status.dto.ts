import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { TENANT_STATUSES, type TenantStatus } from '../tenant.entity';

export const STATUS_REASON_MAX = 500;

/** Body of the operator's `PUT /internal/tenants/{id}/status`. */
export class ChangeTenantStatusDto {
  @ApiProperty({ enum: TENANT_STATUSES })
  @IsIn(TENANT_STATUSES)
  status!: TenantStatus;

  @ApiProperty({ maxLength: STATUS_REASON_MAX, example: 'unpaid invoices' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(STATUS_REASON_MAX)
  reason!: string;
}

/** A tenant's current status, as the gateway reads it. */
export class TenantStatusDto {
  @ApiProperty({ format: 'uuid' }) tenantId!: string;
  @ApiProperty({ enum: TENANT_STATUSES }) status!: TenantStatus;
}

export class TenantStatusChangeDto extends TenantStatusDto {
  @ApiProperty({ enum: TENANT_STATUSES }) previousStatus!: TenantStatus;
  @ApiProperty({ description: 'false when the tenant already had this status (nothing changed, no event)' })
  changed!: boolean;
}
