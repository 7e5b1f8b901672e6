import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsUuid } from '@tessera/service-kit';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, ValidateIf } from 'class-validator';
import type { StockCondition } from '../../domain';
import { SKU_PATTERN } from './movement.dto';

/** A SKU by itself: `DELETE /v1/inventory/hot-skus?sku=` (a SKU with a `/` cannot be named in the path: the gateway refuses %2F). */
export class HotSkuQueryDto {
  @ApiProperty({ maxLength: 128 })
  @IsString()
  @MaxLength(128)
  @Matches(SKU_PATTERN, { message: 'sku must be 1 to 128 characters without surrounding spaces' })
  sku!: string;
}

export class FlagHotSkuDto extends HotSkuQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 604800, description: 'the flag lapses after this; without it the flag stays until removed' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(604800)
  ttlSeconds?: number;
}

export class HotSkuDto {
  @ApiProperty() sku!: string;
  @ApiProperty({ enum: ['staff', 'detected'] }) source!: 'staff' | 'detected';
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) expiresAt!: string | null;
}

export class HotSkuListDto {
  @ApiProperty({ type: [HotSkuDto] }) items!: HotSkuDto[];
  @ApiProperty({ type: String, nullable: true, description: 'the next page\'s cursor; null on the last page' }) nextCursor!: string | null;
}

export class InventorySettingsDto {
  @ApiProperty({ type: 'integer', description: 'how long a checkout reservation holds stock (default 900 s)' })
  reservationTtlSeconds!: number;

  @ApiProperty({ type: 'integer', description: 'how long a cash-on-delivery order holds stock (default 1,209,600 s: 14 days)' })
  cashOnDeliveryTtlSeconds!: number;
}

/** Changes the settings it names and leaves the others as they are; it must name at least one. */
export class UpdateInventorySettingsDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 604800, description: 'checkout reservation time to live' })
  @ValidateIf((_, v) => v !== undefined) // null is a wrong type, not an omission
  @IsInt()
  @Min(1)
  @Max(604800)
  reservationTtlSeconds?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 7776000, description: 'cash-on-delivery reservation time to live' })
  @ValidateIf((_, v) => v !== undefined) // null is a wrong type, not an omission
  @IsInt()
  @Min(1)
  @Max(7776000)
  cashOnDeliveryTtlSeconds?: number;
}

export class ReorderPolicyDto {
  @ApiProperty({ maxLength: 128 })
  @IsString()
  @MaxLength(128)
  @Matches(SKU_PATTERN, { message: 'sku must be 1 to 128 characters without surrounding spaces' })
  sku!: string;

  @ApiProperty({ format: 'uuid' })
  @IsUuid()
  locationId!: string;

  @ApiPropertyOptional({ enum: ['new', 'used'], description: "default: the condition the SKU's variant sells, the one orders reserve" })
  @IsOptional()
  @IsIn(['new', 'used'])
  condition?: StockCondition;

  @ApiProperty({ type: 'integer', minimum: 0, maximum: 1000000, description: 'inventory.stock.low is published when available falls to this' })
  @IsInt()
  @Min(0)
  @Max(1000000)
  reorderPoint!: number;

  @ApiProperty({ type: 'integer', minimum: 0, maximum: 1000000 })
  @IsInt()
  @Min(0)
  @Max(1000000)
  reorderQuantity!: number;
}
