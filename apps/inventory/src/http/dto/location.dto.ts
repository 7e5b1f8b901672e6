import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsUuid, PageQueryDto } from '@tessera/service-kit';
import { MaxCodePoints } from '@tessera/service-kit';
import { IsIn, IsInt, IsNotEmpty, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import type { Location, LocationType } from '../../domain';

const TYPES: LocationType[] = ['warehouse', 'bin'];

export class CreateLocationDto {
  @ApiProperty({ maxLength: 64, example: 'WH-1' })
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { message: 'code must be 1 to 64 letters, digits, dots, dashes or underscores' })
  code!: string;

  @ApiProperty({ maxLength: 200 })
  @IsString()
  @IsNotEmpty()
  @MaxCodePoints(200)
  name!: string;

  @ApiPropertyOptional({
    format: 'uuid',
    description: "required for a bin: the warehouse it belongs to; a warehouse may sit in another warehouse; never in a bin (422 invalid_parent); another tenant's or a missing location → 404",
  })
  @IsOptional()
  @IsUuid()
  parentId?: string;

  @ApiPropertyOptional({ enum: TYPES, default: 'warehouse' })
  @IsOptional()
  @IsIn(TYPES)
  type?: LocationType;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: 1000000, default: 100, description: 'allocation order: lower is allocated first' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1000000)
  priority?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: 1000000, default: 0 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1000000)
  pickSequence?: number;
}

export class LocationDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() code!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) parentId!: string | null;
  @ApiProperty({ enum: TYPES }) type!: LocationType;
  @ApiProperty({ type: 'integer' }) priority!: number;
  @ApiProperty({ type: 'integer' }) pickSequence!: number;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;

  static of(l: Location): LocationDto {
    return { ...l, createdAt: l.createdAt.toISOString() };
  }
}

/** `?cursor=&limit=` (limit 1 to 100, default 20: the platform's PageQueryDto). */
export class LocationsQueryDto extends PageQueryDto {}

export class LocationListDto {
  @ApiProperty({ type: [LocationDto], description: 'in allocation order: priority, then code' }) items!: LocationDto[];
  @ApiProperty({ type: String, nullable: true, description: 'pass as `cursor` for the next page; null on the last page' }) nextCursor!: string | null;
}
