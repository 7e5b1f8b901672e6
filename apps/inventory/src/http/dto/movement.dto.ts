import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsUuid, PageQueryDto } from '@tessera/service-kit';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, ValidateIf } from 'class-validator';
import { MAX_ON_HAND, type AdjustReason, type StockCondition, type StockLevel } from '../../domain';

const TYPES = ['receive', 'adjust', 'transfer'] as const;
const REASONS: AdjustReason[] = ['count', 'damage', 'loss', 'found'];
const CONDITIONS: StockCondition[] = ['new', 'used'];
export const SKU_PATTERN = /^\S(.{0,126}\S)?$/;

export class CreateMovementDto {
  @ApiProperty({ enum: TYPES })
  @IsIn(TYPES)
  type!: (typeof TYPES)[number];

  @ApiProperty({ maxLength: 128 })
  @IsString()
  @MaxLength(128)
  @Matches(SKU_PATTERN, { message: 'sku must be 1 to 128 characters without surrounding spaces' })
  sku!: string;

  @ApiProperty({ format: 'uuid', description: 'the location moved at (the source of a transfer)' })
  @IsUuid()
  locationId!: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'transfer only: the destination' })
  @ValidateIf((o: CreateMovementDto) => o.type === 'transfer' || o.toLocationId !== undefined)
  @IsUuid()
  toLocationId?: string;

  @ApiProperty({ type: 'integer', description: 'receive and transfer: units (1 to 1,000,000); adjust: the signed change, never 0' })
  @IsInt()
  @Min(-1000000)
  @Max(1000000)
  quantity!: number;

  @ApiPropertyOptional({ enum: REASONS, description: 'adjust only, required there' })
  @ValidateIf((o: CreateMovementDto) => o.type === 'adjust' || o.reason !== undefined)
  @IsIn(REASONS)
  reason?: AdjustReason;

  @ApiPropertyOptional({ enum: CONDITIONS, description: "default: the condition the SKU's variant sells, the one orders reserve" })
  @IsOptional()
  @IsIn(CONDITIONS)
  condition?: StockCondition;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: MAX_ON_HAND,
    description: 'what the caller last saw on hand at locationId; if on hand is now different, 409 on_hand_changed and nothing changes',
  })
  @ValidateIf((o: CreateMovementDto) => o.expectedOnHand !== undefined)
  @IsInt()
  @Min(0)
  @Max(MAX_ON_HAND)
  expectedOnHand?: number;
}

export class StockLevelDto {
  @ApiProperty() sku!: string;
  @ApiProperty({ format: 'uuid' }) locationId!: string;
  @ApiProperty({ enum: CONDITIONS }) condition!: StockCondition;
  @ApiProperty({ type: 'integer' }) onHand!: number;
  @ApiProperty({ type: 'integer' }) reserved!: number;
  @ApiProperty({ type: 'integer' }) available!: number;
  @ApiProperty({ type: 'integer' }) reorderPoint!: number;
  @ApiProperty({ type: 'integer' }) reorderQuantity!: number;

  static of(l: StockLevel): StockLevelDto {
    const { sku, locationId, condition, onHand, reserved, available, reorderPoint, reorderQuantity } = l;
    return { sku, locationId, condition, onHand, reserved, available, reorderPoint, reorderQuantity };
  }
}

export class MovementResultDto {
  @ApiProperty({ enum: TYPES }) type!: string;
  @ApiProperty({ type: [StockLevelDto] }) levels!: StockLevelDto[];
}

/** `?sku=&locationId=&cursor=&limit=` (limit 1 to 100, default 20: the platform's PageQueryDto). */
export class LevelsQueryDto extends PageQueryDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(128)
  sku?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUuid()
  locationId?: string;
}

export class LevelListDto {
  @ApiProperty({ type: [StockLevelDto], description: 'ordered by sku, locationId, condition' }) items!: StockLevelDto[];
  @ApiProperty({ type: String, nullable: true, description: 'pass as `cursor` for the next page; null on the last page' }) nextCursor!: string | null;
}
