import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { VariantFulfillment, VariantSellStatus } from '@tessera/contracts';
import { IsUuid } from '@tessera/service-kit';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, ValidateIf } from 'class-validator';
import { CURRENCY_CODES, MAX_AMOUNT } from '../money';
import type { VariantStatus } from '../variant.entity';
import { IsOptionMap } from './json-maps.validators';

export const FULFILLMENTS: VariantFulfillment[] = ['physical', 'digital'];
export const VARIANT_STATUSES: VariantStatus[] = ['active', 'archived'];
/** Letters and digits first, then also . _ - / # +; no spaces, so SKUs survive URLs, CSVs and labels. */
export const SKU_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._\-/#+]{0,63}$/;
export const MAX_WEIGHT_GRAMS = 1_000_000;

const SKU_MESSAGE = 'sku must be 1-64 characters: letters, digits and . _ - / # + (starting with a letter or digit)';
const CURRENCY_MESSAGE = 'currency must be an ISO 4217 code in upper case, e.g. EUR';

/** A variant of a new product, or a variant added to an existing one. */
export class CreateVariantDto {
  @ApiProperty({ example: 'BRK-0042-RED', maxLength: 64, pattern: SKU_PATTERN.source })
  @IsString()
  @Matches(SKU_PATTERN, { message: SKU_MESSAGE })
  sku!: string;

  @ApiProperty({ type: 'integer', format: 'int64', description: 'integer minor units of currency (cents for EUR)', minimum: 1, maximum: MAX_AMOUNT })
  @IsInt()
  @Min(1)
  @Max(MAX_AMOUNT)
  priceAmount!: number;

  @ApiProperty({ example: 'EUR', description: 'ISO 4217' })
  @IsIn(CURRENCY_CODES, { message: CURRENCY_MESSAGE })
  currency!: string;

  @ApiPropertyOptional({ type: 'integer', format: 'int64', nullable: true, description: 'the "was" price, greater than priceAmount', minimum: 1 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_AMOUNT)
  compareAtAmount?: number | null;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, example: { color: 'red', condition: 'new' } })
  @IsOptional()
  @IsOptionMap()
  options?: Record<string, string>;

  @ApiPropertyOptional({ enum: FULFILLMENTS, default: 'physical' })
  @IsOptional()
  @IsIn(FULFILLMENTS)
  fulfillment?: VariantFulfillment;

  @ApiPropertyOptional({ type: 'integer', nullable: true, minimum: 0, maximum: MAX_WEIGHT_GRAMS })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_WEIGHT_GRAMS)
  weightGrams?: number | null;
}

/**
 * One entry of `PATCH /v1/products/{id}` `variants`: with `id`, changes that variant (its SKU never changes);
 * without `id`, adds a variant and then sku, priceAmount and currency are required. `null` clears a nullable field.
 */
export class PatchVariantDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'the variant to change; omit to add a variant' })
  // Absent adds a variant; null is neither a variant nor a request to add one.
  @ValidateIf((o: PatchVariantDto) => o.id !== undefined)
  @IsUuid()
  id?: string;

  @ApiPropertyOptional({ description: 'only when adding a variant' })
  @ValidateIf((o: PatchVariantDto) => o.id === undefined || o.sku !== undefined)
  @IsString()
  @Matches(SKU_PATTERN, { message: SKU_MESSAGE })
  sku?: string;

  @ApiPropertyOptional({ type: 'integer', format: 'int64', minimum: 1, maximum: MAX_AMOUNT })
  @ValidateIf((o: PatchVariantDto) => o.id === undefined || o.priceAmount !== undefined)
  @IsInt()
  @Min(1)
  @Max(MAX_AMOUNT)
  priceAmount?: number;

  @ApiPropertyOptional({ example: 'EUR' })
  @ValidateIf((o: PatchVariantDto) => o.id === undefined || o.currency !== undefined)
  @IsIn(CURRENCY_CODES, { message: CURRENCY_MESSAGE })
  currency?: string;

  @ApiPropertyOptional({ type: 'integer', format: 'int64', nullable: true, minimum: 1 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_AMOUNT)
  compareAtAmount?: number | null;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' } })
  @ValidateIf((o: PatchVariantDto) => o.options !== undefined)
  @IsOptionMap()
  options?: Record<string, string>;

  @ApiPropertyOptional({ enum: FULFILLMENTS })
  @ValidateIf((o: PatchVariantDto) => o.fulfillment !== undefined)
  @IsIn(FULFILLMENTS)
  fulfillment?: VariantFulfillment;

  @ApiPropertyOptional({ type: 'integer', nullable: true, minimum: 0, maximum: MAX_WEIGHT_GRAMS })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_WEIGHT_GRAMS)
  weightGrams?: number | null;

  @ApiPropertyOptional({ enum: VARIANT_STATUSES, description: 'archive a single variant, or bring it back' })
  @ValidateIf((o: PatchVariantDto) => o.status !== undefined)
  @IsIn(VARIANT_STATUSES)
  status?: VariantStatus;
}

export class VariantDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) productId!: string;
  @ApiProperty() sku!: string;
  @ApiProperty({ type: 'integer', format: 'int64', description: 'integer minor units' }) priceAmount!: number;
  @ApiProperty() currency!: string;
  @ApiProperty({ type: 'integer', format: 'int64', nullable: true }) compareAtAmount!: number | null;
  @ApiProperty({ enum: FULFILLMENTS }) fulfillment!: VariantFulfillment;
  @ApiProperty({ type: 'integer', nullable: true }) weightGrams!: number | null;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) options!: Record<string, string>;
  @ApiProperty({ enum: VARIANT_STATUSES, description: "the variant's own status" }) status!: VariantStatus;
  @ApiProperty({ enum: ['active', 'draft', 'archived'], description: 'sellable only when active (product status included)' })
  effectiveStatus!: VariantSellStatus;
  @ApiProperty({ type: 'integer' }) version!: number;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}
