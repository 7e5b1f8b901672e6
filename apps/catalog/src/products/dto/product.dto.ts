import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { ProductStatus } from '@tessera/contracts';
import { IsUuid, MaxCodePoints, PageQueryDto } from '@tessera/service-kit';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  MaxLength,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { IsAttributeMap } from './json-maps.validators';
import { CreateVariantDto, PatchVariantDto, VariantDto } from './variant.dto';

export const PRODUCT_STATUSES: ProductStatus[] = ['draft', 'active', 'archived'];
export const MAX_VARIANTS = 100;
export const MAX_IMAGES = 20;

export class ProductImageDto {
  @ApiProperty({ example: 'https://cdn.example.com/p/1.jpg', maxLength: 2048 })
  @IsString()
  @MaxLength(2048)
  @IsUrl({ protocols: ['https', 'http'], require_protocol: true, require_tld: false })
  url!: string;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: 300 })
  @IsOptional()
  @IsString()
  @MaxLength(300)
  alt?: string | null;
}

export class CreateProductDto {
  @ApiProperty({ maxLength: 300 })
  @IsString()
  @Matches(/\S/, { message: 'title must not be blank' })
  @MaxCodePoints(300)
  title!: string;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: 20000 })
  @IsOptional()
  @IsString()
  @MaxCodePoints(20000)
  description?: string | null;

  @ApiPropertyOptional({ enum: ['draft', 'active'], default: 'active', description: 'archive through POST /v1/products/{id}/archive' })
  @IsOptional()
  @IsIn(['draft', 'active'])
  status?: 'draft' | 'active';

  @ApiPropertyOptional({ type: String, nullable: true, format: 'uuid', description: 'mall tenants: the vendor selling the product' })
  @IsOptional()
  @IsUuid()
  vendorId?: string | null;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, example: { brand: 'Acme', pieces: 120 } })
  @IsOptional()
  @IsAttributeMap()
  attributes?: Record<string, string | number | boolean>;

  @ApiPropertyOptional({ type: [ProductImageDto], maxItems: MAX_IMAGES })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_IMAGES)
  @ValidateNested({ each: true })
  @Type(() => ProductImageDto)
  images?: ProductImageDto[];

  @ApiProperty({ type: [CreateVariantDto], minItems: 1, maxItems: MAX_VARIANTS })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_VARIANTS)
  @ValidateNested({ each: true })
  @Type(() => CreateVariantDto)
  variants!: CreateVariantDto[];
}

/** `PATCH /v1/products/{id}`: absent fields stay as they are; `null` clears description and vendorId. */
export class UpdateProductDto {
  @ApiPropertyOptional({ maxLength: 300 })
  @ValidateIf((o: UpdateProductDto) => o.title !== undefined)
  @IsString()
  @Matches(/\S/, { message: 'title must not be blank' })
  @MaxCodePoints(300)
  title?: string;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: 20000 })
  @IsOptional()
  @IsString()
  @MaxCodePoints(20000)
  description?: string | null;

  @ApiPropertyOptional({ enum: PRODUCT_STATUSES })
  @ValidateIf((o: UpdateProductDto) => o.status !== undefined)
  @IsIn(PRODUCT_STATUSES)
  status?: ProductStatus;

  @ApiPropertyOptional({ type: String, format: 'uuid', nullable: true })
  @IsOptional()
  @IsUuid()
  vendorId?: string | null;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'replaces all attributes' })
  @ValidateIf((o: UpdateProductDto) => o.attributes !== undefined)
  @IsAttributeMap()
  attributes?: Record<string, string | number | boolean>;

  @ApiPropertyOptional({ type: [ProductImageDto], description: 'replaces all images' })
  @ValidateIf((o: UpdateProductDto) => o.images !== undefined)
  @IsArray()
  @ArrayMaxSize(MAX_IMAGES)
  @ValidateNested({ each: true })
  @Type(() => ProductImageDto)
  images?: ProductImageDto[];

  @ApiPropertyOptional({ type: [PatchVariantDto], description: 'changes by variant id, or new variants (no id)' })
  @ValidateIf((o: UpdateProductDto) => o.variants !== undefined)
  @IsArray()
  @ArrayMaxSize(MAX_VARIANTS)
  @ValidateNested({ each: true })
  @Type(() => PatchVariantDto)
  variants?: PatchVariantDto[];
}

export class ListProductsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ description: 'words of the title, description or SKU, or part of a SKU', maxLength: 200 })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  q?: string;

  @ApiPropertyOptional({ enum: PRODUCT_STATUSES })
  @IsOptional()
  @IsIn(PRODUCT_STATUSES)
  status?: ProductStatus;
}

export class ProductImageView {
  @ApiProperty() url!: string;
  @ApiProperty({ type: String, nullable: true }) alt!: string | null;
}

export class ProductDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) vendorId!: string | null;
  @ApiProperty() title!: string;
  @ApiProperty({ type: String, nullable: true }) description!: string | null;
  @ApiProperty({ enum: PRODUCT_STATUSES }) status!: ProductStatus;
  @ApiProperty({ type: 'object', additionalProperties: true }) attributes!: Record<string, string | number | boolean>;
  @ApiProperty({ type: [ProductImageView] }) images!: ProductImageView[];
  @ApiProperty({ type: [VariantDto] }) variants!: VariantDto[];
  @ApiProperty({ type: 'integer' }) version!: number;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}

export class ProductPageDto {
  @ApiProperty({ type: [ProductDto] }) items!: ProductDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}
