import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { NotBlank } from '@tessera/service-kit';
import { Type } from 'class-transformer';
import {
  IsEmail,
  IsIn,
  IsISO4217CurrencyCode,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { TENANT_TYPES, type TenantType } from '../tenant.entity';

export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 256; // argon2 cost grows with input; an upper bound keeps login cheap to refuse

export class OwnerDto {
  @ApiProperty({ example: 'owner@example.com', maxLength: 254 })
  @IsEmail()
  @MaxLength(254)
  email!: string;

  @ApiProperty({ minLength: PASSWORD_MIN, maxLength: PASSWORD_MAX })
  @IsString()
  @MinLength(PASSWORD_MIN)
  @MaxLength(PASSWORD_MAX)
  password!: string;

  @ApiProperty({ example: 'Ada Lovelace', maxLength: 200 })
  @IsString()
  @NotBlank()
  @MaxLength(200)
  name!: string;
}

export class CreateTenantDto {
  @ApiProperty({ example: 'Brick Haven', maxLength: 200 })
  @IsString()
  @NotBlank()
  @MaxLength(200)
  name!: string;

  @ApiProperty({ example: 'brick-haven', pattern: '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$' })
  @IsString()
  @Matches(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, {
    message: 'slug must be lower-case letters, digits and inner hyphens, at most 63 characters',
  })
  slug!: string;

  @ApiPropertyOptional({ enum: TENANT_TYPES, default: 'single_brand' })
  @IsOptional()
  @IsIn(TENANT_TYPES)
  type?: TenantType;

  @ApiPropertyOptional({ example: 'EUR', description: 'ISO 4217 code', default: 'USD' })
  @IsOptional()
  @IsISO4217CurrencyCode()
  defaultCurrency?: string;

  @ApiProperty({ type: OwnerDto })
  @IsObject()
  @ValidateNested()
  @Type(() => OwnerDto)
  owner!: OwnerDto;
}

export class TenantDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() slug!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: TENANT_TYPES }) type!: TenantType;
  @ApiProperty({ example: 'EUR' }) defaultCurrency!: string;
  @ApiProperty({ enum: ['trial', 'active', 'suspended'] }) status!: string;
  @ApiProperty() plan!: string;
}
